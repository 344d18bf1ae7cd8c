import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import { PRIMARIES_BUCKET, PrimaryEntrySchema, SWITCHOVERS_STREAM, subjects } from '@ha/events';
import { spawnSync } from 'node:child_process';
import { alive, BIN, Cluster } from '@ha/test';
import { StatusDocSchema } from '@ha/events';

describe('a primary process fails (SIGKILL)', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start({
      scsHttp: true,
      hosts: ['host-a', 'host-b', 'host-c'],
      pairs: [
        { primary: 'app1', backup: 'app1b', primaryHost: 'host-a', backupHost: 'host-b' },
        { primary: 'app2', backup: 'app2b', primaryHost: 'host-b', backupHost: 'host-c' },
      ],
    });
  });
  afterAll(async () => c?.stop());

  it('starts every application as backup, then the active SCS promotes each configured primary', async () => {
    const s = await c.status();
    expect(s.scs.active).toMatch(/^scs-/);
    expect(s.scs.epoch).toBeGreaterThan(0);
    expect(s.pairs.map((p) => [p.id, p.current, p.state])).toEqual([['app1', 'app1', 'ok'], ['app2', 'app2', 'ok']]);
    expect(s.applications.map((a) => [a.id, a.role])).toEqual([['app1', 'primary'], ['app1b', 'backup'], ['app2', 'primary'], ['app2b', 'backup']]);
    for (const a of s.applications) expect(alive(a.pid!)).toBe(true);
    const events = await c.events();
    const started = events.filter((e) => e.data['type'] === 'AppStarted');
    expect(started.every((e) => e.data['role'] === 'backup')).toBe(true);
    expect(events.some((e) => e.data['type'] === 'ConfigApplied')).toBe(true);
  });

  it('switches over to the backup, announces it with every field, updates KV, and restarts the failed one as backup', async () => {
    const before = await c.status();
    const victim = c.app(before, 'app1');
    const announced = c.nextSwitchover('app1');
    process.kill(victim.pid!, 'SIGKILL');
    const a = await announced;
    expect(a).toMatchObject({ pair: 'app1', from: { app: 'app1', host: 'host-a' }, to: { app: 'app1b', host: 'host-b', endpoint: c.endpoint('app1b') }, reason: 'process-exit', epoch: before.scs.epoch });
    expect(typeof a.causeSeq).toBe('number');
    expect(Number.isNaN(Date.parse(a.at))).toBe(false);
    const events = await c.events();
    const cause = events.find((e) => e.seq === a.causeSeq);
    expect(cause?.data).toMatchObject({ type: 'AppExited', app: 'app1', pid: victim.pid, signal: 'SIGKILL' });
    // stored once in HA_SWITCHOVERS
    const jsm = await jetstream(c.nc).jetstreamManager();
    const stored = await jsm.streams.getMessage(SWITCHOVERS_STREAM, { last_by_subj: subjects.switchoverStored('app1') });
    expect(stored?.json()).toMatchObject({ pair: 'app1', causeSeq: a.causeSeq });
    // KV follows
    const kv = await new Kvm(c.nc).open(PRIMARIES_BUCKET);
    const entry = PrimaryEntrySchema.parse((await kv.get('app1'))?.json());
    expect(entry).toMatchObject({ pair: 'app1', app: 'app1b', host: 'host-b', endpoint: c.endpoint('app1b'), epoch: a.epoch });
    // the failed application comes back, by SCS decision, as backup, and stays backup
    const s = await c.waitStatus('app1 restarted as backup', (st) => {
      const app1 = c.app(st, 'app1');
      return app1.status === 'started' && app1.pid !== victim.pid ? st : undefined;
    });
    expect(c.app(s, 'app1')).toMatchObject({ role: 'backup', restarts: 1 });
    expect(s.pairs.find((p) => p.id === 'app1')).toMatchObject({ current: 'app1b', state: 'ok' });
    const startCmd = (await c.events()).find((e) => e.data['type'] === 'AppStarted' && e.data['app'] === 'app1' && e.data['command'] !== null);
    expect(startCmd).toBeDefined();
  });

  it('hactl status shows it all, as a table and as the contract\'s JSON document', () => {
    const env = { ...process.env, HA_NATS_URL: c.nats.url };
    const json = spawnSync(process.execPath, [BIN.hactl, 'status', '--json'], { encoding: 'utf8', env });
    expect(json.status).toBe(0);
    const doc = StatusDocSchema.parse(JSON.parse(json.stdout));
    expect(doc.pairs.map((p) => [p.id, p.current])).toEqual([['app1', 'app1b'], ['app2', 'app2']]);
    expect(doc.hosts.map((h) => h.lca)).toEqual(['up', 'up', 'up']);
    const table = spawnSync(process.execPath, [BIN.hactl, 'status'], { encoding: 'utf8', env });
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^PAIR\s+PRIMARY\s+BACKUP\s+CURRENT\s+STATE/m);
    expect(table.stdout).toMatch(/^app1\s+app1\s+app1b\s+app1b\s+ok/m);
  });

  it('serves the status over HTTP; the standby\'s shadow decisions agree with the active one\'s', async () => {
    const s = await c.status();
    for (const [id, addr] of c.http) {
      const doc = StatusDocSchema.parse(await (await fetch(`http://${addr}/status`)).json());
      expect(doc.pairs.map((p) => p.current)).toEqual(s.pairs.map((p) => p.current));
      const health = (await (await fetch(`http://${addr}/healthz`)).json()) as { id: string; role: string; shadowDiffs: number; caughtUp: boolean };
      expect(health).toMatchObject({ id, caughtUp: true, shadowDiffs: 0, role: id === s.scs.active ? 'active' : 'standby' });
    }
    expect((await fetch(`http://${c.http.get('scs-1')}/nope`)).status).toBe(404);
  });

  it('keeps the other pair untouched', async () => {
    const s = await c.status();
    expect(s.pairs.find((p) => p.id === 'app2')).toMatchObject({ current: 'app2', state: 'ok' });
  });
});

describe('restarts give up after maxAttempts', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start({
      hosts: ['host-a', 'host-b'],
      pairs: [{ primary: 'p', backup: 'q', primaryHost: 'host-a', backupHost: 'host-b' }],
      restart: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 2 },
    });
  });
  afterAll(async () => c?.stop());

  it('restarts with back-off, then a restart-gave-up notice; status shows it', async () => {
    const decisions: Record<string, unknown>[] = [];
    const sub = c.nc.subscribe('ha.dec.notice', { callback: (_e, m) => { decisions.push(m.json()); } });
    for (let i = 0; i < 3; i++) {
      const s = await c.waitStatus(`q running (round ${i})`, (st) => (c.app(st, 'q').status === 'started' ? st : undefined));
      process.kill(c.app(s, 'q').pid!, 'SIGKILL');
      await c.waitStatus(`q seen stopped (round ${i})`, (st) => (c.app(st, 'q').pid !== c.app(s, 'q').pid ? st : undefined));
    }
    const s = await c.waitStatus('q gave up', (st) => (c.app(st, 'q').gaveUp ? st : undefined));
    expect(c.app(s, 'q')).toMatchObject({ status: 'stopped', restarts: 2, pid: null });
    await c.waitStatus('notice recorded', () => decisions.some((d) => (d['effect'] as { notice?: string }).notice === 'restart-gave-up'));
    sub.unsubscribe();
  });
});
