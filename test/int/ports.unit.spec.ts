import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { freePort, freePortBlock, portFree } from '../support/ports.js';

describe('the harness\'s ports', () => {
  it('never hands out one port twice in a process, and none from the ephemeral range', async () => {
    // The OS's port-0 listener repeats itself (about 1 port in 8 came back within 2,000 calls here):
    // two SCS of one cluster were once given one HTTP port and one of them exited.
    const ports = [];
    for (let i = 0; i < 999; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    expect(ports.every((p) => p >= 10_000 && p < 32_768)).toBe(true);
  });

  it('skips a port something listens on', async () => {
    const first = await freePort();
    const s = createServer();
    await new Promise<void>((r) => s.listen(first + 1, '127.0.0.1', r)); // the next port of the slice, unless it wrapped
    try {
      expect(await portFree(first + 1)).toBe(false);
      for (let i = 0; i < 5; i++) expect(await freePort()).not.toBe(first + 1);
    } finally {
      s.close();
    }
  });

  it('gives clusters blocks of application ports apart from the single ports', async () => {
    const a = await freePortBlock();
    const b = await freePortBlock();
    expect(Math.abs(a - b)).toBe(1_000);
    const single = await freePort();
    expect(single < Math.min(a, b) || single >= Math.max(a, b) + 1_000).toBe(true);
  });
});
