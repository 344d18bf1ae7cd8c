import { createServer } from 'node:net';

/*
 * Ports for the harness's servers and applications. Two rules keep two of them from ever being
 * handed the same port (a test once failed because two SCS of one cluster were given one HTTP port:
 * the first had not bound it yet when the OS offered it again):
 * - ports come from below the OS's ephemeral range (32768-60999 on Linux), which the OS never gives
 *   to a port-0 listener or an outgoing connection;
 * - each vitest worker (`VITEST_POOL_ID`, 1..maxWorkers) draws from its own slice, and within a
 *   process a port is handed out once before the slice wraps. A port found in use is skipped.
 */
const LOW = 10_000;
const SLICE = 3_000; // 1,000 single ports, then two blocks of 1,000 for clusters' applications
const SLICES = Math.floor((32_000 - LOW) / SLICE);
const pool = Number(process.env['VITEST_POOL_ID'] ?? 0);
const sliceStart = LOW + (Number.isInteger(pool) && pool > 0 ? (pool - 1) % SLICES : Math.floor(Math.random() * SLICES)) * SLICE;
let nextSingle = Math.floor(Math.random() * 1_000);
let nextBlock = Math.floor(Math.random() * 2);

/** Whether nothing listens on `port` of loopback (it is bound and released at once). */
export const portFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** A free TCP port on loopback, never one this process was given before (see above). */
export const freePort = async (): Promise<number> => {
  for (let i = 0; i < 1_000; i++) {
    const port = sliceStart + (nextSingle++ % 1_000);
    if (await portFree(port)) return port;
  }
  throw new Error(`no free port in ${sliceStart}-${sliceStart + 999}`);
};

/**
 * The first of 1,000 ports for a cluster's applications (`base + i` and `base + 500 + i`): the two
 * blocks of this process's slice in turn, the first whose probed ports are free.
 */
export const freePortBlock = async (): Promise<number> => {
  for (let i = 0; i < 20; i++) {
    const base = sliceStart + 1_000 + (nextBlock++ % 2) * 1_000;
    const ok = await Promise.all([base, base + 1, base + 2, base + 500, base + 501, base + 502].map(portFree));
    if (ok.every(Boolean)) return base;
    await new Promise((r) => setTimeout(r, 100)); // the previous cluster's applications still exiting
  }
  throw new Error(`no free block of application ports in ${sliceStart + 1_000}-${sliceStart + 2_999}`);
};

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export const until = async <T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 20): Promise<T> => {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = undefined; // an error says why only while the check keeps failing with it
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
};
