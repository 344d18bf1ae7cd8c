import { describe, expect, it } from 'vitest';
import type { DecisionRecord } from '@ha/events';
import type { Effect } from '../decider/index.js';
import { ShadowCheck } from './shadow.js';

const timer = (id: string, at: number): Effect => ({ kind: 'timer', id, at });
const rec = (causeSeq: number, index: number, effect: Effect): DecisionRecord => ({ v: 1, epoch: 1, scs: 'scs-1', causeSeq, index, effect: { ...effect } });

describe('shadow decisions of a standby', () => {
  it('agrees with the same decision, recorded before or after it applied the cause', () => {
    const s = new ShadowCheck();
    expect(s.recorded(rec(5, 0, timer('t', 10)))).toEqual([]);
    expect(s.applied(5, [timer('t', 10)])).toEqual([]);
    expect(s.recorded(rec(5, 0, timer('t', 10)))).toEqual([]);
    expect(s.diffs).toBe(0);
  });

  it('reports a decision that differs, and one it did not make at all', () => {
    const s = new ShadowCheck();
    s.applied(7, [timer('t', 10)]);
    expect(s.recorded(rec(7, 0, timer('t', 11)))).toHaveLength(1);
    expect(s.recorded(rec(7, 1, timer('u', 1)))).toEqual([{ causeSeq: 7, index: 1, ours: null, theirs: { kind: 'timer', id: 'u', at: 1 } }]);
    expect(s.diffs).toBe(2);
  });
});
