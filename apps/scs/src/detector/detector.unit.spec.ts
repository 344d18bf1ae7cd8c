import { describe, expect, it } from 'vitest';
import type { Heartbeat } from '@ha/events';
import { Detector, type HostView } from './detector.js';

const hb = (host: string, n = 0): Heartbeat => ({ type: 'Heartbeat', v: 1, host, lca: 7, n, pid: 1, apps: [] });
const up = (id: string): HostView => ({ id, lca: 'up', lostAt: null });

describe('detector', () => {
  it('declares a host lost once its stored heartbeats are silent for hostTimeoutMs, once', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 3), 10, 5_000, 100);
    const at = (t: number) => { const r: ReturnType<Detector['tick']> = []; for (let m = 50; m <= t; m += 50) r.push(...d.tick(m, [up('a')])); return r; };
    const obs = at(1150);
    expect(obs).toEqual([{ kind: 'lost', host: 'a', evidence: expect.objectContaining({ seq: 10 }), silenceMs: 1050 }]);
    expect(d.tick(1200, [up('a')])).toEqual([]);
  });

  it('gives a verdict\'s evidence as it was: a heartbeat seen later does not change it', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 3), 10, 5_000, 100);
    d.heartbeat(hb('a', 2), 9, 4_000, 100); // an older one changes nothing
    const [lost] = d.tick(1150, [up('a')]);
    expect(lost).toEqual({ kind: 'lost', host: 'a', evidence: { hb: { host: 'a', lca: 7, n: 3 }, seq: 10, at: 5_000, mono: 100 }, silenceMs: 1050 });
    d.heartbeat(hb('a', 4), 11, 6_000, 1_160);
    expect(lost?.evidence).toEqual({ hb: { host: 'a', lca: 7, n: 3 }, seq: 10, at: 5_000, mono: 100 });
    expect(d.last.get('a')).toEqual({ hb: { host: 'a', lca: 7, n: 4 }, seq: 11, at: 6_000, mono: 1_160 });
    const returned = d.tick(1200, [{ id: 'a', lca: 'lost', lostAt: 5_500 }]);
    expect(returned).toEqual([{ kind: 'returned', host: 'a', evidence: { hb: { host: 'a', lca: 7, n: 4 }, seq: 11, at: 6_000, mono: 1_160 } }]);
    d.heartbeat(hb('a', 5), 12, 7_000, 1_300);
    expect(returned[0]?.evidence?.seq).toBe(11);
  });

  it('does not judge by a feed that is catching up (a large backlog), for at most half a timeout', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 1), 10, 5_000, 100);
    for (let m = 50; m <= 1000; m += 50) expect(d.tick(m, [up('a')])).toEqual([]);
    d.backlog(Detector.backlogLimit(1) + 1); // the feed falls behind the store
    for (let m = 1050; m < 1500; m += 50) expect(d.tick(m, [up('a')])).toEqual([]); // silent for 950 to 1350 ms
    expect(d.tick(1500, [up('a')])).toEqual([expect.objectContaining({ kind: 'lost', host: 'a' })]);
  });

  it('judges again as soon as the feed has caught up', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 1), 10, 5_000, 100);
    for (let m = 50; m <= 1000; m += 50) expect(d.tick(m, [up('a')])).toEqual([]);
    d.backlog(10_000);
    expect(d.tick(1150, [up('a')])).toEqual([]);
    d.backlog(3);
    expect(d.tick(1200, [up('a')])).toEqual([expect.objectContaining({ kind: 'lost', host: 'a' })]);
    expect(Detector.backlogLimit(10_000)).toBe(1250); // an eighth of a heartbeat round at 10,000 hosts
  });

  it('gives its verdicts longest silence first, so that a lagging feed\'s do not hide a host really silent', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 1), 10, 5_000, 300);
    d.heartbeat(hb('b', 1), 11, 5_000, 100);
    d.heartbeat(hb('c', 1), 12, 5_000, 200);
    const obs = d.tick(1_350, [up('a'), up('b'), up('c')]);
    expect(obs.map((o) => o.kind === 'lost' && [o.host, o.silenceMs])).toEqual([['b', 1250], ['c', 1150], ['a', 1050]]);
  });

  it('gives every host a full timeout after it starts acting', () => {
    const d = new Detector(1000, 50);
    d.heartbeat(hb('a'), 1, 0, 0);
    d.reset(5_000);
    expect(d.tick(5_050, [up('a')])).toEqual([]);
    let out: unknown[] = [];
    for (let m = 5_100; m <= 6_050 && out.length === 0; m += 50) out = d.tick(m, [up('a')]);
    expect(out).toHaveLength(1);
  });

  it('a late tick (the process was paused) resets deadlines instead of declaring loss', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a'), 1, 0, 0);
    expect(d.tick(50, [up('a')])).toEqual([]);
    expect(d.tick(5_000, [up('a')])).toEqual([]); // 5 s pause
    expect(d.tick(5_050, [up('a')])).toEqual([]);
  });

  it('reports a lost host returned only for a heartbeat stored after it was declared lost', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a'), 1, 1_000, 0);
    const lost: HostView = { id: 'a', lca: 'lost', lostAt: 2_000 };
    expect(d.tick(50, [lost])).toEqual([]);
    d.heartbeat(hb('a'), 2, 2_500, 60);
    expect(d.tick(100, [lost])).toEqual([{ kind: 'returned', host: 'a', evidence: expect.objectContaining({ seq: 2 }) }]);
  });

  it('withdraws a verdict when the store holds a later heartbeat than it was based on, and gives the host a fresh timeout', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 3), 10, 5_000, 0);
    let out: ReturnType<Detector['tick']> = [];
    for (let m = 50; m <= 1_100 && out.length === 0; m += 50) out = d.tick(m, [up('a')]);
    expect(out).toEqual([expect.objectContaining({ kind: 'lost', host: 'a' })]);
    // the feed missed seq 25, which the store holds: the feed was behind, not the host silent
    expect(d.confirm('a', 10, { hb: hb('a', 4), seq: 25, at: 5_900, mono: 1_100 }, 1_100)).toBe(false);
    expect(d.last.get('a')?.seq).toBe(25);
    for (let m = 1_150; m <= 2_100; m += 50) expect(d.tick(m, [up('a')])).toEqual([]);
    // still silent a full timeout after that heartbeat: declared, on the new basis
    expect(d.tick(2_150, [up('a')])).toEqual([expect.objectContaining({ kind: 'lost', evidence: expect.objectContaining({ seq: 25 }) })]);
    // the store has nothing later: the verdict stands
    expect(d.confirm('a', 25, { hb: hb('a', 4), seq: 25, at: 5_900, mono: 1_100 }, 2_150)).toBe(true);
    expect(d.confirm('a', 25, null, 2_150)).toBe(true);
  });

  it('counts an LCA\'s silence from its LcaResumed, and names it as the evidence (an LCA that dies right after it is still declared lost)', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 4), 10, 5_000, 100); // lca 7, n 4: stored just before the resume check
    d.resumed('a', 7, 5, 5_010, 110); // LcaResumed is event 5; the LCA dies before its next heartbeat
    const lostBy = (to: number) => { const r: ReturnType<Detector['tick']> = []; for (let m = 50; m <= to; m += 50) r.push(...d.tick(m, [up('a')])); return r; };
    expect(lostBy(1_100)).toEqual([]); // 1,000 ms after the heartbeat, 990 after the resume
    // a heartbeat read late, older than the resume, moves nothing back
    d.heartbeat(hb('a', 4), 10, 5_000, 100);
    expect(d.tick(1_150, [up('a')])).toEqual([{ kind: 'lost', host: 'a', evidence: { hb: { host: 'a', lca: 7, n: 5 }, seq: 10, at: 5_010, mono: 110 }, silenceMs: 1_040 }]);
  });

  it('judges again after an LcaResumed that came after a verdict the decider will ignore', () => {
    const d = new Detector(1000, 50);
    d.reset(0);
    d.heartbeat(hb('a', 4), 10, 5_000, 0);
    expect(d.tick(1_050, [up('a')])).toEqual([expect.objectContaining({ kind: 'lost', evidence: expect.objectContaining({ hb: expect.objectContaining({ n: 4 }) }) })]);
    d.resumed('a', 7, 5, 6_100, 1_100); // stored after the verdict's basis: the decider ignores that HostLost
    for (let m = 1_100; m <= 2_100; m += 50) expect(d.tick(m, [up('a')])).toEqual([]);
    expect(d.tick(2_150, [up('a')])).toEqual([expect.objectContaining({ kind: 'lost', evidence: expect.objectContaining({ hb: { host: 'a', lca: 7, n: 5 } }) })]);
    // a heartbeat after the resume is the basis again
    d.heartbeat(hb('a', 5), 11, 7_000, 2_200);
    expect(d.tick(2_250, [up('a')])).toEqual([]);
  });
});
