import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SCS_V8_FLAGS } from './v8flags.js';

// 150,000 objects live, and 200,000 more at a time that live long enough to be promoted, then die:
// the old generation's growth is what the flag bounds.
const CHURN = `
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
if (process.argv[1]) setFlagsFromString(process.argv[1]);
const live = [];
for (let i = 0; i < 150_000; i++) live.push({ i, s: 'x' + i, a: [i, i + 1] });
const ring = new Array(200_000);
let peak = 0;
for (let r = 0; r < 100; r++) {
  for (let i = 0; i < 20_000; i++) ring[(r * 20_000 + i) % ring.length] = { r, i, s: 'y' + i, a: [r, i, r + i] };
  await new Promise((res) => setImmediate(res));
  peak = Math.max(peak, getHeapStatistics().total_heap_size);
}
process.stdout.write(String(peak + live.length * 0));
`;

const peakHeap = (flags: string): number => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', CHURN, flags], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Number(r.stdout);
};

describe('the SCS\'s V8 flags (decision 0013)', () => {
  it('set as the process runs, they bound the heap\'s growth over what is live', () => {
    const plain = peakHeap('');
    const flagged = peakHeap(SCS_V8_FLAGS);
    expect(flagged).toBeLessThan(plain * 0.8);
  }, 60_000);
});
