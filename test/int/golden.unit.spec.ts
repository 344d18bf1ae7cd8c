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
    expect(r.beyondLog).toBe(0);
  });

  it('judges only decisions whose cause is in the log read (a live log grows between two reads), and still catches a changed one', () => {
    const cut = decisions.map((d) => d.causeSeq).sort((x, y) => x - y)[Math.floor(decisions.length / 2)]!;
    const shorter = log.filter((m) => m.seq <= cut);
    const r = audit(shorter, decisions);
    expect(r.mismatches).toEqual([]);
    expect(r.beyondLog).toBe(decisions.filter((d) => d.causeSeq > (shorter.at(-1)?.seq ?? 0)).length);
    expect(r.beyondLog).toBeGreaterThan(0);
    const first = decisions.find((d) => d.causeSeq <= cut)!;
    const changed = decisions.map((d) => (d === first ? { ...d, effect: { ...d.effect, kind: 'changed' } } : d));
    expect(audit(shorter, changed).mismatches).toHaveLength(1);
  });

  it('replaying twice gives identical effects', () => {
    const a = audit(log, decisions);
    const b = audit(log, decisions);
    expect([...b.effects.entries()]).toEqual([...a.effects.entries()]);
  });
});
