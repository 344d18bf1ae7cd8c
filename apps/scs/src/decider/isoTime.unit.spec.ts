import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isoTime } from './isoTime.js';

const RUNS = Number(process.env['HA_PROP_RUNS'] ?? 300) * 100;

describe('isoTime', () => {
  it('writes what Date.prototype.toISOString writes, for any time in ms', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 253_402_300_799_999 }), fc.integer({ min: 1_600_000_000_000, max: 2_000_000_000_000 }), fc.double({ min: -1e15, max: 1e15, noNaN: true })), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: RUNS },
    );
  });

  it('at the edges: the epoch, leap days, the turn of centuries, the last four-digit year', () => {
    const edges = ['1970-01-01T00:00:00.000Z', '2000-02-29T23:59:59.999Z', '2000-03-01T00:00:00.000Z', '2100-02-28T12:00:00.001Z', '2100-03-01T00:00:00.000Z', '2024-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'];
    for (const s of edges) expect(isoTime(Date.parse(s))).toBe(s);
    expect(isoTime(253_402_300_800_000)).toBe(new Date(253_402_300_800_000).toISOString());
  });
});
