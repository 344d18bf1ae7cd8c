import { setFlagsFromString } from 'node:v8';

/**
 * The old generation may grow to 1.5 times what is live after a full collection (V8 picks a factor
 * of up to 4 by its own measure of GC and mutator speed). After the set-up of a large cluster (a
 * 21 MB configuration, a claim over every pair, 100,000 first starts) V8 had grown the heap to
 * 300-380 MiB for 80-120 MiB live and kept it for minutes: its memory reducer waits for a quiet
 * mutator, which an SCS reading 10,000 heartbeats a second never is (decision 0013).
 */
export const SCS_V8_FLAGS = '--heap-growing-percent=50';

/** V8 reads it at every full collection, so setting it as the process starts is as good as the command line (which a bin started as `node scs.js` cannot carry). */
export const applyV8Flags = (): void => setFlagsFromString(SCS_V8_FLAGS);
