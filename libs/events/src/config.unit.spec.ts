import { describe, expect, it } from 'vitest';
import { policyOf, validateConfig } from './config.js';

describe('policyOf', () => {
  it('keeps what decisions and status read, in the configuration\'s order, and nothing of the LCAs\' part', () => {
    const r = validateConfig({
      cluster: 'c',
      restart: { maxAttempts: 3 },
      hosts: [{ id: 'h2' }, { id: 'h1' }],
      applications: [
        { id: 'z', host: 'h2', command: ['run', 'z'], endpoint: '10.0.0.1:1', env: { A: 'b' }, probe: { kind: 'sdk' }, onPromote: ['hook'], redundancy: { backup: 'y' } },
        { id: 'y', host: 'h1', command: ['run', 'y'] },
      ],
    });
    if (!r.ok) throw new Error(r.errors.join('; '));
    const p = policyOf(r.config);
    expect(p).toEqual({
      cluster: 'c',
      timing: r.config.timing,
      restart: { initialDelayMs: 250, maxDelayMs: 30000, maxAttempts: 3 },
      hosts: [{ id: 'h2' }, { id: 'h1' }],
      applications: [
        { id: 'z', endpoint: '10.0.0.1:1' },
        { id: 'y', endpoint: null },
      ],
    });
    // its own objects: nothing of the parsed configuration is held through it
    expect(p.timing).not.toBe(r.config.timing);
    expect(p.hosts[0]).not.toBe(r.config.hosts[0]);
  });
});
