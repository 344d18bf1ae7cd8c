import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { EVENTS_STREAM } from '@ha/events';
import { BIN, Cluster, NatsServer, RedisServer, spawnLogged, until, type ClusterSpec } from '@ha/test';

const run = (bin: string, args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 15_000 });

describe('bad input on the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-cli-'));

  it('every command has --help', () => {
    for (const b of [BIN.lca, BIN.scs, BIN.hactl]) {
      const r = run(b, ['--help']);
      expect(r.status, b).toBe(0);
      expect(r.stdout).toMatch(/^usage: /);
    }
  });

  it('an unknown flag: one line naming it, exit 2', () => {
    for (const b of [BIN.lca, BIN.scs, BIN.hactl]) {
      const r = run(b, ['--frobnicate']);
      expect(r.status, b).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('--frobnicate');
    }
  });

  it('a broken cluster file: one line naming the bad field, exit 2, nothing applied', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'cluster: demo\nhosts: [ { id: host-a } ]\napplications:\n  - id: a\n    host: host-z\n    command: [sleep, "1"]\n');
    for (const [b, args] of [[BIN.scs, ['--id', 'x']], [BIN.lca, ['--host', 'host-a']]] as const) {
      const r = run(b, [...args, '--config', bad], { HA_NATS_URL: 'nats://127.0.0.1:1' });
      expect(r.status, b).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('applications[0].host');
    }
    writeFileSync(bad, 'cluster: [unclosed');
    const r = run(BIN.scs, ['--config', bad]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not valid YAML/);
  });

  it('hactl exits 2 with one line when NATS is unreachable', () => {
    const r = run(BIN.hactl, ['status', '--nats', 'nats://127.0.0.1:1']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot reach NATS/);
  });
});

describe('garbage on every subject the SCS and the LCAs read', () => {
  let c: Cluster;
  const spec: ClusterSpec = { hosts: ['host-a', 'host-b'], pairs: [{ primary: 'g1', backup: 'g1b', primaryHost: 'host-a', backupHost: 'host-b' }] };
  beforeAll(async () => {
    c = await Cluster.start(spec);
  });
  afterAll(async () => c?.stop());

  it('is logged with subject and sequence, counted, skipped; failover still works', async () => {
    const js = jetstream(c.nc);
    const garbage = [new TextEncoder().encode('\u0000not json'), new TextEncoder().encode('{"type":"AppExited","v":1}'), new TextEncoder().encode('{"type":"Martian","v":9}')];
    const targets = ['ha.evt.host.host-a.app', 'ha.evt.scs.obs.host-a', 'ha.evt.scs.claim', 'ha.evt.scs.config', 'ha.evt.scs.timer', 'ha.evt.op.switchover', 'ha.hb.host-a', 'ha.cmd.host-a.g1', 'ha.cmd.host-b.g1b'];
    const seqs: number[] = [];
    for (const t of targets) for (const g of garbage) seqs.push((await js.publish(t, g)).seq);
    // a forged LCA event on another host's subject is refused too
    await js.publish('ha.evt.host.host-b.app', new TextEncoder().encode(JSON.stringify({ type: 'AppExited', v: 1, host: 'host-a', lca: 1, n: 99, app: 'g1', incarnation: 1, pid: 1, code: 0, signal: null, expected: false })));
    const reply = await c.nc.request('ha.api.status', new TextEncoder().encode('garbage'), { timeout: 2000 });
    expect(JSON.parse(reply.string()).pairs[0].current).toBe('g1');
    const s = await c.status();
    const sw = c.nextSwitchover('g1');
    process.kill(c.app(s, 'g1').pid!, 'SIGKILL');
    expect((await sw).to.app).toBe('g1b');
    for (const p of [...c.scs.values(), ...c.lcas.values()]) expect(p.running, p.name).toBe(true);
    const scsLog = readFileSync(c.scs.get(s.scs.active!)!.logFile, 'utf8');
    expect(scsLog).toMatch(/"subject":"ha\.evt\.scs\.claim","seq":\d+.*malformed input skipped/);
    expect(scsLog).toContain('foreign subject');
    const lcaLog = readFileSync(c.lcas.get('host-a')!.logFile, 'utf8');
    expect(lcaLog).toMatch(/ha\.cmd\.host-a\.g1/);
    // garbage on the claim subject neither blocks the next claim nor confuses the LCAs' epoch
    const old = s.scs.active!;
    c.scs.get(old)!.signal('SIGKILL');
    const next = await c.waitStatus('a new active SCS', (st) => (st.scs.active && st.scs.active !== old && st.scs.acting ? st : undefined));
    expect(next.scs.epoch).toBeGreaterThan(s.scs.epoch);
    await c.waitStatus('g1 back as backup', (st) => c.app(st, 'g1').status === 'started');
    const back = c.nextSwitchover('g1');
    process.kill(c.app(await c.status(), 'g1b').pid!, 'SIGKILL');
    expect(await back).toMatchObject({ to: { app: 'g1' }, epoch: next.scs.epoch });
  });
});

describe('a configuration larger than the NATS server accepts', () => {
  const spec: ClusterSpec = {
    hosts: ['host-a', 'host-b'],
    pairs: Array.from({ length: 40 }, (_, i) => ({ primary: `big${i}`, backup: `big${i}b`, primaryHost: 'host-a', backupHost: 'host-b' })),
  };
  let nats: NatsServer;
  let redis: RedisServer;
  afterAll(async () => {
    await nats?.stop();
    await redis?.stop();
  });

  it('is refused with an error naming both sizes; the SCS keeps running and claims, and nothing is appended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-payload-'));
    nats = await NatsServer.start(dir, { maxPayload: 4096 });
    redis = await RedisServer.start(dir);
    const configPath = join(dir, 'cluster.json');
    const config = JSON.stringify(Cluster.config(spec, dir));
    expect(config.length).toBeGreaterThan(4096);
    writeFileSync(configPath, config);
    const scs = spawnLogged('scs-1', process.execPath, [BIN.scs, '--id', 'scs-1', '--config', configPath], join(dir, 'scs-1.log'), { HA_NATS_URL: nats.url, HA_REDIS_URL: redis.url });
    try {
      const line = await until('the refusal in the SCS log', () =>
        readFileSync(scs.logFile, 'utf8').split('\n').find((l) => l.includes('larger than the NATS server')), 20_000);
      const refusal = JSON.parse(line) as { bytes: number; maxPayload: number; applications: number };
      expect(refusal).toMatchObject({ maxPayload: 4096, applications: 80 });
      expect(refusal.bytes).toBeGreaterThan(4096);
      const nc = await connect({ servers: nats.url });
      try {
        const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
        const last = await (await jetstreamManager(nc)).streams.getMessage(EVENTS_STREAM, { seq: info.state.last_seq });
        expect(info.state.messages).toBe(1); // its claim, and no configuration
        expect(last?.json<{ type: string }>().type).toBe('ScsClaimed');
      } finally {
        await nc.close();
      }
      expect(scs.running).toBe(true);
    } finally {
      await scs.stop('SIGTERM');
    }
  });
});

describe('a status document larger than the NATS server accepts', () => {
  // the status document names every host with its state (about 90 bytes each), the configuration
  // only its id
  const spec: ClusterSpec = {
    hosts: Array.from({ length: 300 }, (_, i) => `host-${i}`),
    pairs: [{ primary: 'p1', backup: 'p1b', primaryHost: 'host-0', backupHost: 'host-1' }],
  };
  let nats: NatsServer;
  let redis: RedisServer;
  afterAll(async () => {
    await nats?.stop();
    await redis?.stop();
  });

  it('hactl status shows the part that fits, what needs attention first, and says what was left out and where to read all (exit 0)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-status-payload-'));
    const configPath = join(dir, 'cluster.json');
    const config = JSON.stringify(Cluster.config(spec, dir));
    // room for the configuration in the log (with its defaults filled in), not for the status document
    const maxPayload = 3 * config.length;
    nats = await NatsServer.start(dir, { maxPayload });
    redis = await RedisServer.start(dir);
    writeFileSync(configPath, config);
    const scs = spawnLogged('scs-1', process.execPath, [BIN.scs, '--id', 'scs-1', '--config', configPath], join(dir, 'scs-1.log'), { HA_NATS_URL: nats.url, HA_REDIS_URL: redis.url });
    try {
      await until('the configuration applied', () => readFileSync(scs.logFile, 'utf8').includes('configuration appended to the log'), 20_000);
      const r = run(BIN.hactl, ['status', '--nats', nats.url]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`NOTE: only part of the status fits in one message: the whole document is \\d+ bytes, over the bus's max_payload \\(${maxPayload}\\): shown 1 of 1 pairs, \\d+ of 300 hosts`));
      const j = run(BIN.hactl, ['status', '--json', '--nats', nats.url]);
      expect(j.status).toBe(0);
      const doc = JSON.parse(j.stdout) as { truncated?: { hosts: { shown: number; total: number } }; hosts: unknown[] };
      expect(doc.truncated?.hosts.total).toBe(300);
      expect(doc.hosts.length).toBe(doc.truncated?.hosts.shown);
      expect(scs.running).toBe(true);
    } finally {
      await scs.stop('SIGTERM');
    }
  });
});
