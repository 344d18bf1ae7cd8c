import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, Cluster, until, type ClusterSpec } from '@ha/test';

const spec: ClusterSpec = {
  hosts: ['host-a', 'host-b'],
  pairs: [
    { primary: 'r1', backup: 'r1b', primaryHost: 'host-a', backupHost: 'host-b' },
    { primary: 'm1', backup: 'm1b', primaryHost: 'host-a', backupHost: 'host-b', autoSwitchover: false },
  ],
};

describe('nothing is lost; the operator decides where asked to', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start(spec);
  });
  afterAll(async () => c?.stop());

  it('autoSwitchover false: the failure shows as waiting-operator, in the events, and no switchover happens', async () => {
    const s0 = await c.status();
    const victim = c.app(s0, 'm1');
    process.kill(victim.pid!, 'SIGKILL');
    const s = await c.waitStatus('m1 waiting for an operator', (st) => (st.pairs.find((p) => p.id === 'm1')?.state === 'waiting-operator' ? st : undefined));
    expect(s.pairs.find((p) => p.id === 'm1')).toMatchObject({ current: null, lastFailure: { app: 'm1', reason: 'process-exit' } });
    // restarted as backup, still no primary
    const later = await c.waitStatus('m1 restarted', (st) => (c.app(st, 'm1').status === 'started' ? st : undefined));
    expect(c.app(later, 'm1').role).toBe('backup');
    expect(c.app(later, 'm1b').role).toBe('backup');
    expect(later.pairs.find((p) => p.id === 'm1')?.current).toBeNull();
    const events = await c.events();
    expect(events.some((e) => e.data['type'] === 'AppExited' && e.data['app'] === 'm1')).toBe(true);
    expect(events.some((e) => e.data['type'] === 'AppRoleChanged' && e.data['app'] === 'm1b' && e.data['role'] === 'primary')).toBe(false);
  });

  it('events an LCA produced while NATS was down reach the log, in order, after it reconnects', async () => {
    const s0 = await c.status();
    const backup = c.app(s0, 'r1b');
    await c.nats.stop();
    process.kill(backup.pid!, 'SIGKILL'); // the LCA of host-b reaps it while NATS is down
    await until('r1b reaped by its LCA while NATS is down', () => !alive(backup.pid!));
    await c.nats.restart();
    const s = await c.waitStatus('r1b exit seen after reconnect', (st) => (c.app(st, 'r1b').pid !== backup.pid ? st : undefined), 30_000);
    expect(s.pairs.find((p) => p.id === 'r1')?.current).toBe('r1');
    const events = await c.events();
    const exit = events.find((e) => e.data['type'] === 'AppExited' && e.data['app'] === 'r1b' && e.data['pid'] === backup.pid);
    expect(exit).toBeDefined();
    // per LCA incarnation, event numbers rise by one with no gap
    const byInc = new Map<string, number[]>();
    for (const e of events.filter((x) => x.subject.startsWith('ha.evt.host.'))) {
      const k = `${String(e.data['host'])}:${String(e.data['lca'] === 0 ? e.seq : e.data['lca'])}`;
      byInc.set(k, [...(byInc.get(k) ?? []), e.data['n'] as number]);
    }
    for (const [k, ns] of byInc) expect(ns, k).toEqual(ns.map((_, i) => i));
  });

  it('an SCS started later projects the same state from the log', async () => {
    await c.waitStatus('a quiet cluster', (s) => s.hosts.every((h) => h.lca === 'up') && s.applications.every((a) => a.status === 'started'));
    const late = c.startScs('scs-late');
    await c.waitStatus('late SCS caught up', () => readFileSync(late.logFile, 'utf8').includes('projection caught up'));
    // each SCS is asked in turn until the late one and an older one answer at the same log
    // position (the log may still move while we ask)
    type Doc = Awaited<ReturnType<typeof c.status>>;
    const fromLateAt = new Map<number, Doc>();
    const older = new Map<number, Doc>();
    let turn = 0;
    const [fromLate, fromOld] = await until('answers of the late SCS and an older one at the same position', async () => {
      const s = await c.status(1000, ['scs-late', 'scs-1', 'scs-2'][turn++ % 3]);
      (s.scs.answeredBy === 'scs-late' ? fromLateAt : older).set(s.scs.lastSeq ?? -1, s);
      for (const [seq, doc] of fromLateAt) {
        const other = older.get(seq);
        if (other) return [doc, other] as const;
      }
      return undefined;
    }, 30_000, 25);
    const strip = (s: typeof fromLate) => ({ ...s, scs: { ...s.scs, answeredBy: undefined, acting: undefined }, hosts: s.hosts.map((h) => ({ ...h, lastHeartbeatAt: null })) });
    expect(strip(fromLate)).toEqual(strip(fromOld));
    expect(fromLate.applications.length).toBe(4);
  });
});
