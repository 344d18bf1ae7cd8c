import { codec, parseInput, type Input, type Recorded } from '@ha/events';
import { initialState, transition, type Effect } from './decider/index.js';

/** A message of `HA_EVENTS` as stored: its position, JetStream time (ms), subject and raw bytes. */
export type StoredInput = Readonly<{ seq: number; at: number; subject: string; data: Uint8Array }>;

/** An effect as the active SCS recorded it in `HA_DECISIONS`. */
export type RecordedDecision = Readonly<{ epoch: number; causeSeq: number; index: number; effect: Record<string, unknown> }>;

export type AuditResult = {
  inputs: number;
  malformed: number;
  decisions: number;
  /**
   * Recorded decisions caused by an input past the end of the log given, which cannot be judged: a
   * live cluster appends between a read of `HA_EVENTS` and a read of `HA_DECISIONS` made after it.
   */
  beyondLog: number;
  /** Recorded decisions whose content replay does not reproduce. */
  mismatches: { causeSeq: number; index: number; recorded: unknown; replayed: unknown }[];
  /** Replayed effects per input sequence. */
  effects: Map<number, Effect[]>;
};

/** Parses stored messages as the SCS does; malformed ones are skipped (and counted) the same way. */
export const toRecorded = (log: Iterable<StoredInput>): { recorded: Recorded<Input>[]; malformed: number } => {
  const recorded: Recorded<Input>[] = [];
  let malformed = 0;
  for (const m of log) {
    const p = parseInput(m.subject, m.data);
    if (p.ok) recorded.push({ seq: m.seq, at: m.at, input: p.value });
    else malformed++;
  }
  return { recorded, malformed };
};

const canonical = (v: unknown): string => JSON.stringify(JSON.parse(new TextDecoder().decode(codec.encode(v))));

/**
 * Replays the log from the initial state and checks that every recorded decision is reproduced,
 * content for content (envelopes such as who published it are not compared).
 */
export const audit = (log: Iterable<StoredInput>, decisions: Iterable<RecordedDecision>): AuditResult => {
  const { recorded, malformed } = toRecorded(log);
  const effects = new Map<number, Effect[]>();
  let state = initialState();
  for (const rec of recorded) {
    const t = transition(state, rec);
    state = t.state;
    if (t.effects.length > 0) effects.set(rec.seq, t.effects);
  }
  const mismatches: AuditResult['mismatches'] = [];
  const lastSeq = recorded.at(-1)?.seq ?? 0;
  let n = 0;
  let beyondLog = 0;
  for (const d of decisions) {
    n++;
    if (d.causeSeq > lastSeq) {
      beyondLog++;
      continue;
    }
    const replayed = effects.get(d.causeSeq)?.[d.index];
    if (replayed === undefined || canonical(replayed) !== canonical(d.effect)) {
      mismatches.push({ causeSeq: d.causeSeq, index: d.index, recorded: d.effect, replayed: replayed ?? null });
    }
  }
  return { inputs: recorded.length, malformed, decisions: n, beyondLog, mismatches, effects };
};
