import type { StreamInfo } from '@nats-io/jetstream';
import { EVENTS_STREAM, streamSpecs, subjects, type StreamSpec } from '@ha/events';

/** What the SCS remembers of the log between two checks. */
export type LogSeen = Readonly<{
  /** The stream's creation time at the first check: another one means the stream was replaced. */
  created: string | null;
  replicas: number | null;
}>;

/** Where the projection stands: what the log must still hold. */
export type ProjectionAt = Readonly<{ lastSeq: number; epoch: number }>;

export type LogVerdict = Readonly<{
  /** Problems that forbid acting: the log was truncated, replaced, or may be truncated at any time. */
  blocking: string[];
  /** Problems to report that do not touch the log itself (another stream's limits). */
  warnings: string[];
  seen: LogSeen;
}>;

/** The limits a stream must have as the product creates it (`libs/bus` ensureStreams). */
const limitProblems = (spec: StreamSpec, info: StreamInfo): string[] => {
  const c = info.config;
  const out: string[] = [];
  const want = (what: string, actual: unknown, expected: unknown) => {
    if (actual !== expected) out.push(`${spec.name}: ${what} is ${String(actual)}, expected ${String(expected)}`);
  };
  want('max_msgs', c.max_msgs ?? -1, -1);
  want('max_bytes', c.max_bytes ?? -1, -1);
  want('max_msgs_per_subject', c.max_msgs_per_subject ?? -1, spec.lastPerSubject ? 1 : -1);
  want('max_age', c.max_age ?? 0, spec.maxAgeMs ? spec.maxAgeMs * 1_000_000 : 0);
  if (spec.denyDeleteAndPurge) {
    want('deny_delete', c.deny_delete ?? false, true);
    want('deny_purge', c.deny_purge ?? false, true);
  }
  if (!spec.subjects.every((s) => c.subjects?.includes(s))) out.push(`${spec.name}: subjects are ${JSON.stringify(c.subjects ?? [])}, expected to include ${JSON.stringify(spec.subjects)}`);
  return out;
};

/**
 * Judges the streams' configurations and the log's continuity (pure: the caller reads the stream
 * infos and the message at the last epoch). `HA_EVENTS` holds everything from sequence 1 (no limits,
 * no deletes, no purges): a first sequence other than 1, deleted messages inside it, a last sequence
 * behind the projection, a claim the projection saw that is no longer there, or another creation
 * time all mean the log is not the one the decisions were made from.
 */
export const judgeLog = (
  infos: ReadonlyMap<string, StreamInfo>,
  at: ProjectionAt,
  claimAtEpoch: { subject: string } | null | 'unread',
  seen: LogSeen,
): LogVerdict => {
  const blocking: string[] = [];
  const warnings: string[] = [];
  for (const spec of streamSpecs) {
    const info = infos.get(spec.name);
    if (!info) {
      (spec.name === EVENTS_STREAM ? blocking : warnings).push(`${spec.name}: stream missing`);
      continue;
    }
    (spec.name === EVENTS_STREAM ? blocking : warnings).push(...limitProblems(spec, info));
  }
  const ev = infos.get(EVENTS_STREAM);
  let next = seen;
  if (ev) {
    const s = ev.state;
    if (s.messages > 0 && s.first_seq !== 1) blocking.push(`${EVENTS_STREAM}: truncated: its first sequence is ${s.first_seq}, not 1`);
    if ((s.num_deleted ?? 0) > 0) blocking.push(`${EVENTS_STREAM}: ${s.num_deleted} messages deleted inside it (sequence gaps)`);
    if (s.last_seq < at.lastSeq) blocking.push(`${EVENTS_STREAM}: replaced or cut: its last sequence is ${s.last_seq}, the projection is at ${at.lastSeq}`);
    if (at.epoch > 0 && claimAtEpoch !== 'unread' && claimAtEpoch?.subject !== subjects.claim) blocking.push(`${EVENTS_STREAM}: the last claim seen (seq ${at.epoch}) is gone`);
    if (seen.created !== null && ev.created !== seen.created) blocking.push(`${EVENTS_STREAM}: replaced: created ${ev.created}, first seen created ${seen.created}`);
    const replicas = ev.config.num_replicas ?? 1;
    if (seen.replicas !== null && replicas < seen.replicas) warnings.push(`${EVENTS_STREAM}: replicas lowered from ${seen.replicas} to ${replicas}`);
    next = { created: seen.created ?? ev.created, replicas: Math.max(seen.replicas ?? 0, replicas) };
  }
  return { blocking, warnings, seen: next };
};
