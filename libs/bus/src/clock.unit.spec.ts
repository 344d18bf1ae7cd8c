import { describe, expect, it } from 'vitest';
import { TimeSlicer, within } from './clock.js';

/** A backlog already buffered: every `next()` resolves at once, in microtasks only. */
async function* backlog(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

const drain = async (slicer: TimeSlicer | null, timerFired: () => boolean): Promise<{ firedDuring: boolean }> => {
  const end = performance.now() + 1000;
  for await (const i of backlog(Number.MAX_SAFE_INTEGER)) {
    if (slicer?.due()) await slicer.yield();
    if (i < 0) break;
    if (timerFired() || performance.now() > end) break;
  }
  return { firedDuring: timerFired() };
};

describe('TimeSlicer', () => {
  it('lets a due timer run in the middle of a for-await loop over a buffered backlog', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    expect((await drain(new TimeSlicer(5), () => fired)).firedDuring).toBe(true);
  });

  it('is needed: without it the same loop starves the timer until it ends', async () => {
    let fired = false;
    setTimeout(() => (fired = true), 0);
    expect((await drain(null, () => fired)).firedDuring).toBe(false);
  });
});

describe('within', () => {
  it('gives the outcome in time, else an error naming what was late', async () => {
    await expect(within(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
    await expect(within(Promise.reject(new Error('no')), 1000, 'x')).rejects.toThrow('no');
    await expect(within(new Promise(() => undefined), 20, 'JetStream did not answer')).rejects.toThrow('JetStream did not answer');
  });
});
