import { describe, expect, it } from 'vitest';
import type { StreamInfo } from '@nats-io/jetstream';
import { EVENTS_STREAM, streamSpecs, subjects } from '@ha/events';
import { judgeLog, type LogSeen } from './logCheck.js';

const info = (name: string, over: { config?: Record<string, unknown>; state?: Record<string, unknown>; created?: string } = {}): StreamInfo => {
  const spec = streamSpecs.find((s) => s.name === name)!;
  return {
    created: over.created ?? '2026-12-01T00:00:00Z',
    config: { name, subjects: spec.subjects, max_msgs: -1, max_bytes: -1, max_msgs_per_subject: spec.lastPerSubject ? 1 : -1, max_age: spec.maxAgeMs ? spec.maxAgeMs * 1_000_000 : 0, deny_delete: !!spec.denyDeleteAndPurge, deny_purge: !!spec.denyDeleteAndPurge, num_replicas: 1, ...over.config },
    state: { messages: 100, first_seq: 1, last_seq: 100, num_deleted: 0, ...over.state },
  } as unknown as StreamInfo;
};
const all = (events: StreamInfo = info(EVENTS_STREAM)) => new Map(streamSpecs.map((s) => [s.name, s.name === EVENTS_STREAM ? events : info(s.name)]));
const fresh: LogSeen = { created: null, replicas: null };
const claim = { subject: subjects.claim };

describe('the log as the SCS checks it', () => {
  it('is fine as the product creates it, and remembers what it saw', () => {
    const v = judgeLog(all(), { lastSeq: 90, epoch: 4 }, claim, fresh);
    expect(v.blocking).toEqual([]);
    expect(v.warnings).toEqual([]);
    expect(v.seen).toEqual({ created: '2026-12-01T00:00:00Z', replicas: 1 });
  });

  it('is not acted on when truncated, cut, replaced, holed, or open to truncation', () => {
    const seen: LogSeen = { created: '2026-12-01T00:00:00Z', replicas: 3 };
    const cases: [StreamInfo, RegExp][] = [
      [info(EVENTS_STREAM, { state: { first_seq: 40 }, config: { max_msgs: 60 } }), /truncated: its first sequence is 40, not 1/],
      [info(EVENTS_STREAM, { state: { last_seq: 50 } }), /replaced or cut: its last sequence is 50, the projection is at 90/],
      [info(EVENTS_STREAM, { created: '2026-12-02T00:00:00Z' }), /replaced: created 2026-12-02/],
      [info(EVENTS_STREAM, { state: { num_deleted: 3 } }), /3 messages deleted inside it/],
      [info(EVENTS_STREAM, { config: { deny_purge: false } }), /deny_purge is false, expected true/],
      [info(EVENTS_STREAM, { config: { max_age: 1e9 } }), /max_age is 1000000000, expected 0/],
    ];
    for (const [i, re] of cases) expect(judgeLog(all(i), { lastSeq: 90, epoch: 4 }, claim, seen).blocking.join('\n')).toMatch(re);
    expect(judgeLog(all(), { lastSeq: 90, epoch: 4 }, null, seen).blocking).toEqual([`${EVENTS_STREAM}: the last claim seen (seq 4) is gone`]);
    expect(judgeLog(all(), { lastSeq: 90, epoch: 4 }, { subject: 'ha.evt.host.x.app' }, seen).blocking).toHaveLength(1);
    expect(judgeLog(all(), { lastSeq: 90, epoch: 4 }, 'unread', seen).blocking).toEqual([]);
    expect(judgeLog(all(), { lastSeq: 90, epoch: 4 }, claim, seen).warnings).toEqual([`${EVENTS_STREAM}: replicas lowered from 3 to 1`]);
  });

  it('reports another stream configured otherwise without stopping', () => {
    const m = all();
    m.set('HA_COMMANDS', info('HA_COMMANDS', { config: { max_msgs: 10 } }));
    const v = judgeLog(m, { lastSeq: 90, epoch: 4 }, claim, fresh);
    expect(v.blocking).toEqual([]);
    expect(v.warnings).toEqual(['HA_COMMANDS: max_msgs is 10, expected -1']);
  });
});
