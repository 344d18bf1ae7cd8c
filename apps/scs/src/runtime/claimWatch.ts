/**
 * A claiming SCS holds the lease but acts only once its projection applies its own claim. If the
 * projection stops moving meanwhile (a pull the server lost, a stalled consumer), nobody acts for
 * as long as the lease is renewed. The 2 s pulls notice a lost pull; this is the second line: no
 * progress for a bound while behind our claim gives the lease up, and no new claim is tried until
 * the projection moves again (it would stall the same way).
 */
export class ClaimWatch {
  #since: number | null = null;
  #progressAt = -Infinity;
  #stalled = false;

  /** Our claim was stored at `now`. */
  claimed(now: number): void {
    this.#since = now;
  }

  /** The projection applied an input (any) at `now`. */
  progressed(now: number): void {
    this.#progressAt = now;
    this.#stalled = false;
  }

  /** Our claim was applied, or we stopped claiming. */
  settled(): void {
    this.#since = null;
  }

  /** True once, when the projection has not moved for `boundMs` since the claim or its last input. */
  stalled(now: number, boundMs: number): boolean {
    if (this.#since === null || now - Math.max(this.#since, this.#progressAt) <= boundMs) return false;
    this.#since = null;
    this.#stalled = true;
    return true;
  }

  /** False after a stall until the projection moves again. */
  get mayClaim(): boolean {
    return !this.#stalled;
  }
}
