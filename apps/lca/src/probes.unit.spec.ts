import { describe, expect, it } from 'vitest';
import { describeEnd, runBounded } from './hooks.js';
import { parseAddress } from './probes.js';
import { drainBoundMs } from './drain.js';

const opts = { env: process.env, cwd: undefined, timeoutMs: 2000 };

describe('probe and hook helpers', () => {
  it('parses host:port, [v6]:port and :port', () => {
    expect(parseAddress('127.0.0.1:7001')).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(parseAddress('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(parseAddress(':9')).toEqual({ host: '127.0.0.1', port: 9 });
    expect(parseAddress('localhost')).toBeNull();
    expect(parseAddress('h:0')).toBeNull();
    expect(parseAddress('h:70000')).toBeNull();
  });

  it('runs a command without a shell and names how it ended', async () => {
    expect(await runBounded(['true'], opts)).toEqual({ ok: true });
    const code = await runBounded(['sh', '-c', 'exit 4'], opts);
    expect(describeEnd('onPromote', code)).toBe('onPromote exited with code 4');
    const killed = await runBounded(['sh', '-c', 'kill -TERM $$'], opts);
    expect(describeEnd('onDemote', killed)).toBe('onDemote was killed by SIGTERM');
    const missing = await runBounded(['/nonexistent/hook'], opts);
    expect(describeEnd('precondition', missing)).toMatch(/^precondition could not run: .*ENOENT/);
    // no shell: the argument is not interpreted
    expect(await runBounded(['test', '$HOME', '=', '$HOME'], opts)).toEqual({ ok: true });
    expect(await runBounded(['sh', '-c', 'test "$X" = y'], { ...opts, env: { ...process.env, X: 'y' } })).toEqual({ ok: true });
  });

  it('kills a command at its timeout', async () => {
    const t0 = Date.now();
    const end = await runBounded(['sleep', '30'], { ...opts, timeoutMs: 100 });
    expect(end).toEqual({ ok: false, timedOutMs: 100 });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('bounds a drain by 2 × promoteTimeoutMs + hostTimeoutMs', () => {
    expect(drainBoundMs({ promoteTimeoutMs: 2000, hostTimeoutMs: 1000 })).toBe(5000);
  });
});
