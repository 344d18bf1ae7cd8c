import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { createUser } from '@nats-io/nkeys';
import {
  codec,
  COMMANDS_STREAM,
  DECISIONS_STREAM,
  EVENTS_STREAM,
  HEARTBEATS_STREAM,
  PRIMARIES_BUCKET,
  PrimaryEntrySchema,
  subjects,
  SWITCHOVERS_STREAM,
} from '@ha/events';
import { publishUnique } from '@ha/bus';
import { BIN, Cluster, spawnLogged, until, type ClusterSpec } from '@ha/test';
import { stopChecked } from './invariants.js';

const spec: ClusterSpec = {
  secure: true,
  hosts: ['host-a', 'host-b'],
  pairs: [{ primary: 'a1', backup: 'b1', primaryHost: 'host-a', backupHost: 'host-b' }],
  // nothing here is about host loss: a host whose LCA starts slowly on a busy machine must not be lost
  timing: { hostTimeoutMs: 2000 },
};

/** Runs a bin to completion (async: the test process keeps serving its NATS connection). */
const run = (bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> =>
  new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, out, err }));
  });

/** The attempt must fail with the broker's permissions violation for `subject`. */
const denied = async (attempt: Promise<unknown>, subject: string): Promise<void> => {
  const err = await attempt.then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(err, `expected a permissions violation for ${subject}`).not.toBeNull();
  const text = `${err?.message ?? ''} ${String((err as { cause?: Error } | null)?.cause?.message ?? '')}`;
  expect(text).toMatch(/permissions violation/i);
  expect(text).toContain(subject);
};

/** A subscription the broker refuses: it closes with the violation. */
const subscribeDenied = async (nc: NatsConnection, subject: string): Promise<void> => {
  const sub = nc.subscribe(subject);
  const closed = await sub.closed;
  expect(closed).toBeInstanceOf(Error);
  expect((closed as Error).message).toMatch(/permissions violation for subscription/i);
  expect((closed as Error).message).toContain(subject);
};

const forgedExit = { type: 'AppExited', v: 1, host: 'host-a', lca: 1, n: 999, app: 'a1', incarnation: 1, code: null, signal: 'SIGKILL', cause: 'exit' };

describe('a cluster with identities on the bus (DESIGN 3b)', () => {
  let c: Cluster;
  const conns: NatsConnection[] = [];
  const as = async (identity: string): Promise<NatsConnection> => {
    const nc = await c.connectAs(identity);
    conns.push(nc);
    return nc;
  };

  beforeAll(async () => {
    c = await Cluster.start(spec);
  });
  afterAll(async () => {
    await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
    await stopChecked(c);
  });

  it('runs every process with its own identity and fails a killed primary over as without them', async () => {
    for (const f of ['scs-1', 'lca-host-a']) {
      const log = readFileSync([...c.scs.values(), ...c.lcas.values()].find((p) => p.name === f)!.logFile, 'utf8');
      expect(log).not.toMatch(/no NATS identity/);
    }
    const before = await c.status();
    const sw = c.nextSwitchover('a1');
    process.kill(c.app(before, 'a1').pid!, 'SIGKILL');
    const a = await sw;
    expect(a).toMatchObject({ pair: 'a1', from: { app: 'a1', host: 'host-a' }, to: { app: 'b1', host: 'host-b' }, reason: 'process-exit', epoch: before.scs.epoch });
    const kv = await new Kvm(c.nc).open(PRIMARIES_BUCKET);
    await until('KV names b1', async () => PrimaryEntrySchema.parse((await kv.get('a1'))?.json()).app === 'b1');
    await c.waitStatus('a1 restarted as backup', (s) => (c.app(s, 'a1').status === 'started' && c.app(s, 'a1').role === 'backup' ? s : undefined));
    expect(c.permissionViolations()).toEqual([]);
  });

  it('a lost host (LCA and applications stopped) is failed over, and its old primary demoted when it returns', async () => {
    const s = await c.status();
    const lca = c.lcas.get('host-b')!;
    const b1 = c.app(s, 'b1').pid!;
    const sw = c.nextSwitchover('a1');
    lca.signal('SIGSTOP');
    process.kill(b1, 'SIGSTOP');
    expect(await sw).toMatchObject({ reason: 'host-lost', to: { app: 'a1', host: 'host-a' } });
    process.kill(b1, 'SIGCONT');
    lca.signal('SIGCONT');
    await c.waitStatus('host-b up again with b1 demoted', (st) =>
      st.hosts.find((h) => h.id === 'host-b')?.lca === 'up' && c.app(st, 'b1').role === 'backup' && c.app(st, 'b1').status === 'started' ? st : undefined);
    expect(c.permissionViolations()).toEqual([]);
  });

  it('refuses anonymous connections', async () => {
    const err = await connect({ servers: c.nats.url, timeout: 2000, maxReconnectAttempts: 0 }).then(
      async (nc) => {
        await nc.close();
        return null;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/authorization/i);
  });

  it('a host identity cannot speak for another host, the SCS, or read another host\'s commands', async () => {
    const nc = await as('host-host-b');
    const js = jetstream(nc);
    await denied(js.publish(subjects.hostEvent('host-a', 'app'), codec.encode(forgedExit), { msgID: 'forged-exit' }), 'ha.evt.host.host-a.app');
    await denied(js.publish(subjects.hostEvent('host-a', 'lca'), codec.encode({ type: 'LcaStarted', v: 1, host: 'host-a', lca: 0, n: 1, pid: 1, bootId: 'x', ended: [] })), 'ha.evt.host.host-a.lca');
    const evil = { ...c.config, applications: (c.config['applications'] as Record<string, unknown>[]).map((x) => ({ ...x, command: ['sh', '-c', 'touch /tmp/ha-owned'] })) };
    await denied(js.publish(subjects.config, codec.encode({ type: 'ConfigApplied', v: 1, epoch: 1, scs: 'scs-1', config: evil })), 'ha.evt.scs.config');
    await denied(js.publish(subjects.command('host-a', 'a1'), codec.encode({ type: 'PromoteApp', v: 1 }), { msgID: '9999:cmd:1:0' }), 'ha.cmd.host-a.a1');
    const jsm = await jetstreamManager(nc);
    // a consumer on host-a's commands: the filter is in the API subject, under any name
    await denied(jsm.consumers.add(COMMANDS_STREAM, { durable_name: 'spy', filter_subject: 'ha.cmd.host-a.>', ack_policy: AckPolicy.Explicit }), '$JS.API.CONSUMER.CREATE.HA_COMMANDS.spy.ha.cmd.host-a.>');
    await denied(jsm.consumers.add(COMMANDS_STREAM, { durable_name: 'lca-host-a', filter_subject: 'ha.cmd.host-a.>', ack_policy: AckPolicy.Explicit }), '$JS.API.CONSUMER.CREATE.HA_COMMANDS.lca-host-a.ha.cmd.host-a.>');
    // its own filter under another host's consumer name, or no filter at all
    await denied(jsm.consumers.add(COMMANDS_STREAM, { durable_name: 'lca-host-a', filter_subject: 'ha.cmd.host-b.>', ack_policy: AckPolicy.Explicit }), '$JS.API.CONSUMER.CREATE.HA_COMMANDS.lca-host-a.ha.cmd.host-b.>');
    await denied(jsm.consumers.add(COMMANDS_STREAM, { durable_name: 'spy', ack_policy: AckPolicy.Explicit }), '$JS.API.CONSUMER.CREATE.HA_COMMANDS.spy');
    await denied(nc.request(`$JS.API.CONSUMER.MSG.NEXT.${COMMANDS_STREAM}.lca-host-a`, codec.encode({ batch: 1 })), '$JS.API.CONSUMER.MSG.NEXT.HA_COMMANDS.lca-host-a');
    await denied(jsm.consumers.delete(COMMANDS_STREAM, 'lca-host-a'), '$JS.API.CONSUMER.DELETE.HA_COMMANDS.lca-host-a');
    await subscribeDenied(nc, 'ha.cmd.>');
    await subscribeDenied(nc, '_INBOX.>');
    // and nothing forged reached the log
    const events = await c.events();
    expect(events.filter((e) => e.subject.startsWith('ha.evt.host.host-a.') && e.data['n'] === 999)).toEqual([]);
    expect(events.filter((e) => e.subject === subjects.config && JSON.stringify(e.data).includes('ha-owned'))).toEqual([]);
  });

  it('the operator may only ask; the reader may only read', async () => {
    const op = await as('operator');
    const js = jetstream(op);
    await denied(js.publish(subjects.command('host-a', 'a1'), codec.encode({ type: 'PromoteApp', v: 1 }), { msgID: '99999:cmd:1:0' }), 'ha.cmd.host-a.a1');
    await denied(js.publish(subjects.claim, codec.encode({ type: 'ScsClaimed', v: 1, scs: 'evil', deciderVersion: 1 })), 'ha.evt.scs.claim');
    await denied(js.publish(subjects.heartbeat('host-a'), codec.encode({})), 'ha.hb.host-a');
    const rd = await as('reader');
    const rjs = jetstream(rd);
    await denied(rjs.publish(subjects.operator('switchover'), codec.encode({ type: 'SwitchoverRequested', v: 1, pair: 'a1', requestId: 'r', by: 'reader' })), 'ha.evt.op.switchover');
    await denied(rjs.publish(subjects.hostEvent('host-a', 'app'), codec.encode(forgedExit)), 'ha.evt.host.host-a.app');
    await denied(rjs.publish(subjects.decision('notice'), codec.encode({})), 'ha.dec.notice');
    // what they may do works
    const s = await rd.request(subjects.status, codec.encode({}), { timeout: 3000 });
    expect(JSON.parse(s.string())).toHaveProperty('pairs');
    const kv = await new Kvm(rd).open(PRIMARIES_BUCKET);
    expect(PrimaryEntrySchema.parse((await kv.get('a1'))?.json()).pair).toBe('a1');
    // following the primaries: a KV watch (an ordered consumer on the bucket's stream)
    const w = await kv.watch({ key: 'a1' });
    for await (const e of w) {
      expect(PrimaryEntrySchema.parse(e.json()).pair).toBe('a1');
      break;
    }
    // and the operator reads the log through a consumer of its own
    const first = await (await jetstream(op).consumers.get(EVENTS_STREAM)).next({ expires: 2000 });
    expect(first?.seq).toBe(1);
  });

  it('only the SCS writes KV ha_primaries and answers status requests', async () => {
    for (const id of ['host-host-a', 'operator', 'reader']) {
      const nc = await as(id);
      const kv = await new Kvm(nc).open(PRIMARIES_BUCKET);
      await denied(kv.put('a1', codec.encode({ pair: 'a1', app: 'a1', host: 'host-a', endpoint: 'evil:1', epoch: 999 })), '$KV.ha_primaries.a1');
      await subscribeDenied(nc, subjects.status);
    }
  });

  it('the SCS identity creates streams but cannot change, purge or delete them, nor delete a message', async () => {
    const jsm = await jetstreamManager(await as('scs'));
    const info = await jsm.streams.info(EVENTS_STREAM);
    await denied(jsm.streams.update(EVENTS_STREAM, { ...info.config, max_msgs: 10 }), `$JS.API.STREAM.UPDATE.${EVENTS_STREAM}`);
    for (const s of [EVENTS_STREAM, COMMANDS_STREAM, DECISIONS_STREAM, SWITCHOVERS_STREAM, HEARTBEATS_STREAM, `KV_${PRIMARIES_BUCKET}`]) {
      await denied(jsm.streams.purge(s), `$JS.API.STREAM.PURGE.${s}`);
      await denied(jsm.streams.delete(s), `$JS.API.STREAM.DELETE.${s}`);
    }
    await denied(jsm.streams.deleteMessage(DECISIONS_STREAM, 1), `$JS.API.STREAM.MSG.DELETE.${DECISIONS_STREAM}`);
    await denied(jsm.streams.add({ name: 'HA_SHADOW', subjects: ['ha.shadow.>'] }), '$JS.API.STREAM.CREATE.HA_SHADOW');
    expect((await jsm.streams.info(EVENTS_STREAM)).config.max_msgs).toBe(info.config.max_msgs);
  });

  it('a command id the SCS stored before (a new leader deciding an input again) is read back and found its own', async () => {
    // publishUnique reads back the message a duplicate ack names: without STREAM.MSG.GET on
    // HA_COMMANDS, the SCS identity failed every re-decided command after a takeover.
    const nc = await as('scs');
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const data = codec.encode({ type: 'AppCommand', note: 'to a host no LCA serves' });
    const forged: unknown[] = [];
    const subject = subjects.command('host-none', 'app-none');
    const first = await publishUnique(js, jsm, subject, data, { msgID: 'secure-test:cmd:1' }, (f) => forged.push(f));
    const again = await publishUnique(js, jsm, subject, data, { msgID: 'secure-test:cmd:1' }, (f) => forged.push(f));
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, seq: first.seq });
    expect(forged).toEqual([]);
  });

  it('the admin identity may update a stream', async () => {
    const jsm = await jetstreamManager(await as('admin'));
    const info = await jsm.streams.info(DECISIONS_STREAM);
    const updated = await jsm.streams.update(DECISIONS_STREAM, { ...info.config, description: 'updated by admin' });
    expect(updated.config.description).toBe('updated by admin');
  });

  it('hactl: the operator switches over; the reader sees status but cannot; a bad seed file is one line and exit 2', async () => {
    const env = { HA_NATS_URL: c.nats.url };
    const st = await run(BIN.hactl, ['status', '--nkey', c.seedFile('reader')], env);
    expect(st.code, st.err).toBe(0);
    const refused = await run(BIN.hactl, ['switchover', 'a1', '--timeout', '3000'], { ...env, HA_NATS_NKEY: c.seedFile('reader') });
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/permissions violation/i);
    const from = await c.waitStatus('a1 settled with both members started', (x) => (x.pairs[0]?.state === 'ok' && x.applications.every((a) => a.status === 'started') ? x.pairs[0].current : undefined));
    const to = from === 'a1' ? 'b1' : 'a1';
    const ok = await run(BIN.hactl, ['switchover', 'a1'], { ...env, HA_NATS_NKEY: c.seedFile('operator') });
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toContain(`switched over a1: ${from}@`);
    expect(ok.out).toMatch(new RegExp(`-> ${to}@host-\\w \\(manual`));
    const missing = join(c.dir, 'no-such.nk');
    const bad = await run(BIN.hactl, ['status', '--nkey', missing], env);
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toContain(missing);
    const garbage = join(c.dir, 'garbage.nk');
    writeFileSync(garbage, 'not a seed\n', { mode: 0o600 });
    const g = await run(BIN.hactl, ['status', '--nkey', garbage], env);
    expect(g.code).toBe(2);
    expect(g.err).toContain(garbage);
    const loose = join(c.dir, 'loose.nk');
    copyFileSync(c.seedFile('reader'), loose);
    chmodSync(loose, 0o644);
    const l = await run(BIN.hactl, ['status', '--nkey', loose], env);
    expect(l.code, l.err).toBe(0);
    expect(l.err).toMatch(/can be read by others/);
    const anon = await run(BIN.hactl, ['status'], env);
    expect(anon.code).toBe(2);
    expect(anon.err).toMatch(/^hactl: NATS refused an anonymous connection: .*--nkey/);
    const stranger = join(c.dir, 'stranger.nk');
    writeFileSync(stranger, new TextDecoder().decode(createUser().getSeed()) + '\n', { mode: 0o600 });
    const s = await run(BIN.hactl, ['status', '--nkey', stranger], env);
    expect(s.code).toBe(2);
    expect(s.err).toContain(`NATS refused the identity in ${stranger}`);
    const lca = await run(BIN.lca, ['--host', 'host-a', '--nkey', missing], env);
    expect(lca.code).toBe(2);
    expect(lca.err).toContain(missing);
  });

  it('an lca or scs without an identity says so in one line, and is refused by a secure bus', async () => {
    const env = { ...c.env, HA_STATE_DIR: join(c.dir, 'anon-state') };
    const procs = [
      spawnLogged('anon-lca', process.execPath, [BIN.lca, '--host', 'host-x'], join(c.dir, 'anon-lca.log'), env),
      spawnLogged('anon-scs', process.execPath, [BIN.scs, '--id', 'scs-anon'], join(c.dir, 'anon-scs.log'), env),
    ];
    try {
      for (const p of procs) {
        const log = await until(`${p.name} refused`, () => {
          const text = readFileSync(p.logFile, 'utf8');
          return /Authorization Violation/i.test(text) ? text : undefined;
        });
        expect(log.split('\n').filter((l) => l.includes('no NATS identity'))).toHaveLength(1);
      }
    } finally {
      await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    }
  });

  it('after every attack, and with the next command and announcement ids pre-published by others, failover still works', async () => {
    const before = await c.waitStatus('a1 settled with both members started', (s) => (s.pairs[0]?.state === 'ok' && s.applications.every((a) => a.status === 'started') ? s : undefined));
    const victim = before.pairs[0]!.current!;
    const heir = victim === 'a1' ? 'b1' : 'a1';
    // JetStream drops a message whose id it has seen: a forged command stored under the id of the
    // SCS's next promotion (`<epoch>:cmd:<cause seq>:0`), or an announcement under `sw:<pair>:<cause
    // seq>`, would make the real one vanish. Only the SCS may publish there.
    const last = (await (await jetstreamManager(c.nc)).streams.info(EVENTS_STREAM)).state.last_seq;
    for (const id of ['host-host-b', 'operator', 'reader']) {
      const js = jetstream(await as(id));
      for (let seq = last + 1; seq <= last + 10; seq++) {
        await denied(js.publish(subjects.command('host-b', 'b1'), codec.encode({ type: 'DemoteApp', v: 1 }), { msgID: `${before.scs.epoch}:cmd:${seq}:0` }), 'ha.cmd.host-b.b1');
        await denied(js.publish(subjects.switchoverStored('a1'), codec.encode({ pair: 'a1' }), { msgID: `sw:a1:${seq}` }), 'ha.sw.a1');
      }
    }
    const sw = c.nextSwitchover('a1');
    process.kill(c.app(before, victim).pid!, 'SIGKILL');
    expect(await sw).toMatchObject({ to: { app: heir }, reason: 'process-exit' });
    expect(c.permissionViolations()).toEqual([]);
  });
});

describe('a secure cluster whose LCAs start before any SCS', () => {
  it('LCAs wait for the SCS to create the streams (they may not), then everything comes up', async () => {
    const c = await Cluster.start({ ...spec, scs: 0 }, { waitReady: false });
    try {
      for (const p of c.lcas.values()) await until(`${p.name} refused the stream creation`, () => readFileSync(p.logFile, 'utf8').includes('cannot create the streams'));
      c.startScs('scs-1');
      await c.waitReady();
      const refused = readFileSync(c.nats.logFile, 'utf8').split('\n').filter((l) => /Publish Violation/.test(l));
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((l) => /nats\.js:lca-host-.*Subject "\$JS\.API\.STREAM\.CREATE\./.test(l))).toBe(true);
      expect(c.permissionViolations().length).toBe(0);
    } finally {
      await stopChecked(c);
    }
  });
});

describe('an identity refused for a while (auth.conf edited and reloaded)', () => {
  it('the LCA keeps retrying and is back once its key is accepted again', async () => {
    const c = await Cluster.start(spec);
    try {
      const authConf = join(c.dir, 'identities', 'auth.conf');
      const text = readFileSync(authConf, 'utf8');
      // host-a's user entry as `secure init` writes it: a comment line, then the entry on four lines
      const without = text.replace(/ {4}# host-host-a\n(.*\n){4}/, '');
      expect(without).not.toBe(text);
      writeFileSync(join(c.dir, 'identities', 'auth-without-a.conf'), without);
      const lca = c.lcas.get('host-a')!;
      await c.nats.reload('include "identities/auth-without-a.conf"');
      await until('host-a refused', () => /NATS refused the identity/.test(readFileSync(lca.logFile, 'utf8')), 15_000);
      // several refused attempts in a row (the client gives up after two unless told not to)
      await until('host-a refused three times', () => readFileSync(c.nats.logFile, 'utf8').split('nats.js:lca-host-a" - authentication error').length > 3, 15_000);
      await c.nats.reload('include "identities/auth.conf"');
      const since = Date.now();
      await c.waitStatus('host-a heartbeating again', (s) => {
        const h = s.hosts.find((x) => x.id === 'host-a');
        return h?.lca === 'up' && h.lastHeartbeatAt !== null && Date.parse(h.lastHeartbeatAt) > since ? s : undefined;
      }, 20_000);
      expect(lca.running).toBe(true);
    } finally {
      await stopChecked(c);
    }
  });
});
