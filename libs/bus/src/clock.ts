/** Monotonic milliseconds (not wall clock): for leases, deadlines and timeouts. */
export const monoMs = (): number => Number(process.hrtime.bigint() / 1_000_000n);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
