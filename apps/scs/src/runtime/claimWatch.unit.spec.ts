import { describe, expect, it } from 'vitest';
import { ClaimWatch } from './claimWatch.js';

describe('a claiming SCS whose projection stalls', () => {
  it('gives up once the projection has not moved for the bound since the claim, then waits for it to move', () => {
    const w = new ClaimWatch();
    w.progressed(0);
    w.claimed(1000);
    expect(w.stalled(5000, 4000)).toBe(false); // 4 s since the claim: not over the bound
    expect(w.stalled(5001, 4000)).toBe(true);
    expect(w.stalled(9000, 4000)).toBe(false); // said once
    expect(w.mayClaim).toBe(false);
    w.progressed(9100);
    expect(w.mayClaim).toBe(true);
  });

  it('does not give up while the projection keeps moving, however long the catch-up takes', () => {
    const w = new ClaimWatch();
    w.claimed(0);
    for (let t = 1000; t <= 60_000; t += 1000) {
      w.progressed(t);
      expect(w.stalled(t + 3999, 4000)).toBe(false);
    }
    expect(w.stalled(64_001, 4000)).toBe(true);
  });

  it('says nothing once the claim is applied or given up', () => {
    const w = new ClaimWatch();
    w.claimed(0);
    w.settled();
    expect(w.stalled(100_000, 4000)).toBe(false);
    expect(w.mayClaim).toBe(true);
  });
});
