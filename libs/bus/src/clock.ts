/** Monotonic milliseconds (not wall clock): for leases, deadlines and timeouts. */
export const monoMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `p`'s outcome, or an error saying `what` once `ms` have passed; the timer is cleared either way. */
export const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
};

/**
 * For loops that drain a backlog with `for await`: messages already buffered come back as resolved
 * promises, so such a loop runs on in one macrotask and starves the timers (the lease renewal!) and
 * the I/O of the whole process. `if (s.due()) await s.yield()` gives the event loop a turn once
 * `sliceMs` of work has gone by.
 */
export class TimeSlicer {
  #since = performance.now();
  constructor(readonly sliceMs = 10) {}
  due(): boolean {
    return performance.now() - this.#since >= this.sliceMs;
  }
  async yield(): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    this.#since = performance.now();
  }
}
