import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sleep } from '@ha/bus';
import { codec, subjects, type PrimaryEntry } from '@ha/events';
import { until } from '@ha/test';
import { Bed, TIMING, alive, type AppSpec, type EventLog } from '../test/bed.js';

const H = 'host-a';
const PAIR: AppSpec[] = [
  { id: 'a', host: H, redundancy: { backup: 'b' } },
  { id: 'b', host: 'host-b' },
];

describe('lca across processes and outages', () => {
  let bed: Bed;
  let log: EventLog;
  beforeEach(async () => {
    bed = await Bed.start();
    log = bed.log(H);
  });
  afterEach(async () => {
    await bed?.close();
  });

  const setup = async (apps: AppSpec[]) => {
    const epoch = await bed.claim();
    await bed.applyConfig(epoch, apps, [H, 'host-b']);
    const proc = bed.spawnLca(H);
    const started = await log.waitFor('LcaStarted', (e) => e.pid === proc.pid);
    const mine = apps.filter((a) => a.host === H).map((a) => a.id);
    const inc: Record<string, { seq: number; pid: number }> = {};
    for (const app of mine) {
      const s = await log.waitFor('AppStarted', (e) => e.app === app && e.lca === started.seq);
      inc[app] = { seq: s.seq, pid: s.event.pid };
      bed.track([s.event.pid]);
    }
    return { epoch, proc, lca: started.seq, inc };
  };

  const promote = async (app: string, t: { epoch: number; lca: number; inc: Record<string, { seq: number }> }) => {
    const id = await bed.command(H, app, 'promote', { epoch: t.epoch, lca: t.lca, incarnation: t.inc[app]?.seq ?? 0 });
    return log.waitFor('AppRoleChanged', (e) => e.command === id && e.role === 'primary');
  };

  const primaryEntry = (epoch: number, app: string, host: string): Uint8Array => {
    const e: PrimaryEntry = { pair: 'a', app, host, endpoint: null, epoch, causeSeq: 1, at: new Date().toISOString() };
    return codec.encode(e);
  };

  it('stores events produced while NATS was down, in order and without gaps, after reconnecting', async () => {
    const t = await setup([{ id: 'a1', host: H }, { id: 'a2', host: H }]);
    await bed.nats.stop();
    const a1 = t.inc['a1'];
    if (!a1) throw new Error('no a1');
    process.kill(a1.pid, 'SIGKILL');
    await bed.waitForLog(t.proc, /"app":"a1".*application exited/);
    // Long enough for the publish to time out: the retry path is what is tested.
    await bed.waitForLog(t.proc, /outbox: publish failed/);
    await bed.nats.restart();
    const exited = await log.waitFor('AppExited', (e) => e.app === 'a1', { timeoutMs: 20_000 });
    expect(exited.event).toMatchObject({ lca: t.lca, incarnation: a1.seq, signal: 'SIGKILL', expected: false });
    await log.waitFor('LcaResumed', (e) => e.cause === 'reconnected');
    // the command consumer works again
    await promote('a2', t);
    const ns = log.events.filter((s) => s.event.lca === t.lca).map((s) => s.event.n);
    expect(ns.length).toBeGreaterThanOrEqual(5);
    expect(ns).toEqual(ns.map((_, i) => i + 1));
    expect(log.events[0]?.event).toMatchObject({ type: 'LcaStarted', n: 0 });
    await bed.waitForHeartbeat(H, (h) => h.lca === t.lca && h.n === ns.length && h.apps[0]?.status === 'stopped');
  });

  it('SIGKILL of the LCA: its applications die with it (pdeathsig)', async () => {
    const t = await setup([{ id: 'a1', host: H }, { id: 'a2', host: H }]);
    const pids = Object.values(t.inc).map((i) => i.pid);
    expect(pids.every(alive)).toBe(true);
    t.proc.signal('SIGKILL');
    await t.proc.exited;
    await until('applications gone', () => pids.every((p) => !alive(p)), 5000);
  });

  it('a new LCA for the host kills a stopped earlier one and its applications, and lists them in ended', async () => {
    const t = await setup([{ id: 'a1', host: H }, { id: 'a2', host: H }]);
    const oldPids = Object.values(t.inc).map((i) => i.pid);
    t.proc.signal('SIGSTOP');
    const second = bed.spawnLca(H);
    const started = await log.waitFor('LcaStarted', (e) => e.pid === second.pid);
    expect(started.event.ended).toEqual(['a1', 'a2']);
    const gone = await t.proc.exited;
    expect(gone.signal).toBe('SIGKILL');
    expect(oldPids.some(alive)).toBe(false);
    for (const app of ['a1', 'a2']) {
      const s = await log.waitFor('AppStarted', (e) => e.app === app && e.lca === started.seq);
      bed.track([s.event.pid]);
      expect(oldPids).not.toContain(s.event.pid);
    }
    expect(second.running).toBe(true);
  });

  it('after a freeze longer than hostTimeoutMs, demotes a primary that the KV says was replaced', async () => {
    const t = await setup(PAIR);
    await promote('a', t);
    // A first freeze with the KV naming `a` itself: LcaResumed, no demotion.
    await bed.kv.put('a', primaryEntry(t.epoch, 'a', H));
    t.proc.signal('SIGSTOP');
    await sleep(TIMING.hostTimeoutMs + 300);
    t.proc.signal('SIGCONT');
    const r1 = await log.waitFor('LcaResumed', (e) => e.cause === 'paused');
    expect(r1.event.gapMs).toBeGreaterThan(TIMING.hostTimeoutMs);
    await bed.waitForLog(t.proc, /"demoted":0.*resumed: primaries checked/);
    expect(log.of('AppRoleChanged').filter((s) => s.event.role === 'backup')).toEqual([]);
    await bed.waitForHeartbeat(H, (h) => h.n >= r1.event.n && h.apps[0]?.role === 'primary');

    // Second freeze: meanwhile the KV names `b`.
    t.proc.signal('SIGSTOP');
    await bed.kv.put('a', primaryEntry(t.epoch, 'b', 'host-b'));
    await sleep(TIMING.hostTimeoutMs + 300);
    t.proc.signal('SIGCONT');
    const demoted = await log.waitFor('AppRoleChanged', (e) => e.app === 'a' && e.role === 'backup', { afterSeq: r1.seq });
    expect(demoted.event).toMatchObject({ command: null, epoch: t.epoch, incarnation: t.inc['a']?.seq });
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.role === 'backup');
  });

  it('demotes its primaries at once when its own host is declared lost, even without a gap of its own', async () => {
    const t = await setup(PAIR);
    await promote('a', t);
    const epoch = await bed.claim('scs-2');
    const lost = await bed.publishRaw(
      subjects.observation(H),
      codec.encode({ type: 'HostLost', v: 1, epoch, scs: 'scs-2', host: H, lca: t.lca, n: 99, lastHeartbeatAt: null, silenceMs: 700 }),
    );
    const demoted = await log.waitFor('AppRoleChanged', (e) => e.app === 'a' && e.role === 'backup');
    expect(demoted.seq).toBeGreaterThan(lost);
    expect(demoted.event).toMatchObject({ command: null, epoch });
    expect(log.events.some((e) => e.event.type === 'LcaResumed')).toBe(false);
  });

  it('after a freeze, demotes its primaries if its host was declared lost before its LcaResumed', async () => {
    const t = await setup(PAIR);
    await promote('a', t);
    t.proc.signal('SIGSTOP');
    const epoch2 = await bed.claim('scs-2');
    const lost = await bed.publishRaw(
      subjects.observation(H),
      codec.encode({ type: 'HostLost', v: 1, epoch: epoch2, scs: 'scs-2', host: H, lca: t.lca, n: 3, lastHeartbeatAt: null, silenceMs: 700 }),
    );
    await sleep(TIMING.hostTimeoutMs + 300);
    t.proc.signal('SIGCONT');
    const resumed = await log.waitFor('LcaResumed', (e) => e.cause === 'paused');
    expect(resumed.seq).toBeGreaterThan(lost);
    // demoted on its own: by the resume check, or already by watching its own host's observations
    const demoted = await log.waitFor('AppRoleChanged', (e) => e.app === 'a' && e.role === 'backup');
    expect(demoted.seq).toBeGreaterThan(lost);
    expect(demoted.event).toMatchObject({ command: null, epoch: epoch2 });
  });

  it('after a NATS reconnect, demotes a primary that the KV says was replaced', async () => {
    const t = await setup(PAIR);
    await promote('a', t);
    // The LCA does not watch the KV: nothing happens until it reconnects.
    await bed.kv.put('a', primaryEntry(t.epoch, 'b', 'host-b'));
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.role === 'primary');
    await bed.nats.stop();
    await bed.nats.restart();
    const demoted = await log.waitFor('AppRoleChanged', (e) => e.app === 'a' && e.role === 'backup', { timeoutMs: 20_000 });
    expect(demoted.event).toMatchObject({ command: null, epoch: t.epoch });
  });
});
