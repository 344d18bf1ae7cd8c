import { describe, expect, it } from 'vitest';
import { actingIntervals, prng } from '@ha/test';

const rec = (pid: number, event: 'role' | 'fenced' | 'unfenced', monoNs: number, role = 'primary') => ({ app: `a${pid}`, pid, event, role, monoNs: String(monoNs) });

describe('the chaos invariant checker', () => {
  it('a seed gives the same schedule', () => {
    const a = prng(7);
    const b = prng(7);
    expect(Array.from({ length: 5 }, () => a.int(0, 100))).toEqual(Array.from({ length: 5 }, () => b.int(0, 100)));
  });

  it('an acting interval runs from promotion to demotion, fence, death or the horizon, minus stops', () => {
    const recs = [rec(1, 'role', 10), rec(1, 'fenced', 20), rec(1, 'unfenced', 30), rec(1, 'role', 50, 'backup'), rec(2, 'role', 60)];
    const ends = new Map([[2, [80n]]]);
    const pauses = new Map<number, [bigint, bigint][]>([[1, [[35n, 40n]]]]);
    const iv = actingIntervals(recs, ends, pauses, 100n).map((i) => [i.pid, Number(i.from), Number(i.to)]).sort((x, y) => x[1]! - y[1]!);
    expect(iv).toEqual([[1, 10, 20], [1, 30, 35], [1, 40, 50], [2, 60, 80]]);
  });
});
