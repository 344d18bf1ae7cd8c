import { parseInput } from '@ha/events';
import { transition, type Effect, type State } from '../decider/index.js';

/**
 * Stored `HA_EVENTS` messages packed for a worker thread: `meta` holds `seq`, `at` (JetStream time,
 * ms) and the end offset of the message's bytes in `bytes`, three numbers per message; `subjects`
 * are joined by `\n` (a subject holds no whitespace). `meta` and `bytes` are transferred, not copied.
 */
export type RawBatch = Readonly<{ count: number; meta: Float64Array<ArrayBuffer>; bytes: Uint8Array<ArrayBuffer>; subjects: string }>;

/** A message the SCS projection would skip (and count): not JSON, not an input, or on a foreign subject. */
export type MalformedInput = Readonly<{ seq: number; subject: string; error: string }>;

/** What one batch did: the effects of each input that had some, and the malformed messages. */
export type BatchReport = Readonly<{
  firstSeq: number;
  lastSeq: number;
  effects: { seq: number; effects: Effect[] }[];
  malformed: MalformedInput[];
}>;

/** Packs messages into one `RawBatch`, growing its byte buffer as needed. */
export class BatchPacker {
  #meta: Float64Array<ArrayBuffer>;
  #bytes: Uint8Array<ArrayBuffer>;
  #subjects: string[] = [];
  #count = 0;
  #end = 0;

  constructor(
    readonly capacity: number,
    private readonly bytesHint = capacity * 256,
  ) {
    this.#meta = new Float64Array(capacity * 3);
    this.#bytes = new Uint8Array(bytesHint);
  }

  get count(): number {
    return this.#count;
  }
  get full(): boolean {
    return this.#count >= this.capacity;
  }

  add(seq: number, at: number, subject: string, data: Uint8Array): void {
    const end = this.#end + data.length;
    if (end > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.#bytes.length * 2));
      grown.set(this.#bytes.subarray(0, this.#end));
      this.#bytes = grown;
    }
    this.#bytes.set(data, this.#end);
    this.#end = end;
    const i = this.#count * 3;
    this.#meta[i] = seq;
    this.#meta[i + 1] = at;
    this.#meta[i + 2] = end;
    this.#subjects.push(subject);
    this.#count++;
  }

  /**
   * The batch so far. The next one starts from the hinted size again: a buffer grown for one large
   * message (a `ConfigApplied` of 10,000 applications is 2 MB) would otherwise be allocated, zeroed
   * and handed over with every later batch.
   */
  take(): RawBatch {
    const b: RawBatch = { count: this.#count, meta: this.#meta, bytes: this.#bytes, subjects: this.#subjects.join('\n') };
    this.#meta = new Float64Array(this.capacity * 3);
    this.#bytes = new Uint8Array(this.bytesHint);
    this.#subjects = [];
    this.#count = 0;
    this.#end = 0;
    return b;
  }
}

/**
 * Applies a batch as the SCS projection applies messages: parse and check each one, count and
 * skip the malformed, run `transition` on the others in order.
 */
export const applyBatch = (state: State, batch: RawBatch, withEffects: boolean): { state: State; report: BatchReport } => {
  const subjects = batch.subjects.split('\n');
  const { meta, bytes } = batch;
  const effects: BatchReport['effects'] = [];
  const malformed: MalformedInput[] = [];
  let s = state;
  let start = 0;
  for (let k = 0; k < batch.count; k++) {
    const seq = meta[k * 3]!;
    const at = meta[k * 3 + 1]!;
    const end = meta[k * 3 + 2]!;
    const subject = subjects[k]!;
    const parsed = parseInput(subject, bytes.subarray(start, end));
    start = end;
    if (!parsed.ok) {
      malformed.push({ seq, subject, error: parsed.error });
      continue;
    }
    const t = transition(s, { seq, at, input: parsed.value });
    s = t.state;
    if (withEffects && t.effects.length > 0) effects.push({ seq, effects: t.effects });
  }
  const firstSeq = batch.count > 0 ? meta[0]! : 0;
  const lastSeq = batch.count > 0 ? meta[(batch.count - 1) * 3]! : 0;
  return { state: s, report: { firstSeq, lastSeq, effects, malformed } };
};
