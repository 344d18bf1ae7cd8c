import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { audit, type RecordedDecision, type StoredInput } from '@ha/scs';
import type { GoldenLine } from '@ha/test';

// A log recorded by a real cluster under real faults (npm run golden:record): replaying it must
// reproduce every decision the active SCS carried out, content for content.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const lines = readFileSync(join(ROOT, 'test/fixtures/golden-faults.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as GoldenLine);
const log: StoredInput[] = lines.flatMap((l) => (l.t === 'event' ? [{ seq: l.seq, at: l.at, subject: l.subject, data: new TextEncoder().encode(l.data) }] : []));
const decisions: RecordedDecision[] = lines.flatMap((l) => (l.t === 'decision' ? [l] : []));

describe('golden replay of a recorded fault run', () => {
  it('holds real faults: process exit, host lost, a leader change, a paused host', () => {
    const types = log.map((m) => (JSON.parse(new TextDecoder().decode(m.data)) as { type: string }).type);
    expect(types.filter((t) => t === 'ScsClaimed').length).toBeGreaterThanOrEqual(2);
    expect(types).toContain('HostLost');
    expect(types).toContain('HostReturned');
    expect(types).toContain('LcaResumed');
    const reasons = decisions.filter((d) => d.effect['kind'] === 'announce').map((d) => (d.effect['announcement'] as { reason: string }).reason);
    expect(reasons).toEqual(expect.arrayContaining(['process-exit', 'host-lost']));
  });

  it('replays to the same effects as were recorded', () => {
    const r = audit(log, decisions);
    expect(r.decisions).toBeGreaterThan(10);
    expect(r.mismatches).toEqual([]);
  });

  it('replaying twice gives identical effects', () => {
    const a = audit(log, decisions);
    const b = audit(log, decisions);
    expect([...b.effects.entries()]).toEqual([...a.effects.entries()]);
  });
});
