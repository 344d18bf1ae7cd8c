import type { DecisionRecord } from '@ha/events';
import type { Effect } from '../decider/index.js';

export type ShadowDiff = { causeSeq: number; index: number; ours: Effect | null; theirs: Record<string, unknown> };

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * A standby runs the same decider without acting; this compares its decisions with what the active
 * SCS recorded in `HA_DECISIONS` (DESIGN section 3). Records may arrive before or after the standby
 * applied their cause; a bounded window of recent inputs is kept.
 */
export class ShadowCheck {
  readonly #ours = new Map<number, readonly Effect[]>();
  readonly #waiting = new Map<number, DecisionRecord[]>();
  #applied = 0;
  diffs = 0;

  constructor(private readonly window = 2000) {}

  /** The standby applied input `seq` and decided `effects`; returns differences found now. */
  applied(seq: number, effects: readonly Effect[]): ShadowDiff[] {
    this.#applied = seq;
    if (effects.length > 0) this.#ours.set(seq, effects);
    this.#ours.delete(seq - this.window);
    const waiting = this.#waiting.get(seq) ?? [];
    this.#waiting.delete(seq);
    return waiting.flatMap((r) => this.#compare(r));
  }

  /** The active SCS recorded a decision; returns a difference if it is one. */
  recorded(r: DecisionRecord): ShadowDiff[] {
    if (r.causeSeq > this.#applied) {
      if (r.causeSeq - this.#applied < this.window) this.#waiting.set(r.causeSeq, [...(this.#waiting.get(r.causeSeq) ?? []), r]);
      return [];
    }
    if (r.causeSeq <= this.#applied - this.window) return [];
    return this.#compare(r);
  }

  #compare(r: DecisionRecord): ShadowDiff[] {
    const ours = this.#ours.get(r.causeSeq)?.[r.index] ?? null;
    if (ours !== null && same(ours, r.effect)) return [];
    this.diffs++;
    return [{ causeSeq: r.causeSeq, index: r.index, ours, theirs: r.effect }];
  }
}
