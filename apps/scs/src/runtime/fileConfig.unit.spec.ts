import { describe, expect, it } from 'vitest';
import { codec, parseInput, validateConfig, type ClusterConfig } from '@ha/events';
import { configDigest, FileConfig, jsonChunks } from './fileConfig.js';

const make = (apps: number, tweak = ''): ClusterConfig => {
  const hosts = Array.from({ length: Math.max(2, apps / 10) }, (_, i) => ({ id: `h${i}` }));
  const applications = Array.from({ length: apps }, (_, i) => ({
    id: `a${i}`,
    host: `h${i % hosts.length}`,
    command: ['node', 'server.js', `--port=${7000 + i}`, tweak],
    endpoint: `10.0.0.${i % 250}:${7000 + i}`,
    env: { GREETING: 'grüß dich "😀"\n' },
    ...(i % 2 === 0 ? { redundancy: { backup: `a${i + 1}` } } : {}),
  }));
  const r = validateConfig({ cluster: 'c1', timing: { leaseMs: 3000 }, hosts, applications });
  if (!r.ok) throw new Error(r.errors.slice(0, 3).join('; '));
  return r.config;
};

describe('the file configuration the SCS keeps', () => {
  it('jsonChunks are the pieces of JSON.stringify, none much over 64 KB', () => {
    for (const c of [make(2), make(3000)]) {
      const chunks = [...jsonChunks(c)];
      expect(chunks.join('')).toBe(JSON.stringify(c));
      expect(Math.max(...chunks.map((s) => s.length))).toBeLessThan(70_000);
    }
    expect([...jsonChunks(make(3000))].length).toBeGreaterThan(5);
  });

  it('two configurations have the same digest exactly when their JSON texts are the same', () => {
    expect(configDigest(make(3000))).toBe(configDigest(make(3000)));
    expect(configDigest(make(3000, 'x'))).not.toBe(configDigest(make(3000)));
    expect(configDigest(make(3000))).not.toBe(configDigest(make(2998)));
  });

  it('its ConfigApplied message is codec.encode of that input, byte for byte, and parses back to the configuration', () => {
    const c = make(3000);
    const f = FileConfig.of(c);
    expect(f.cluster).toBe('c1');
    expect(f.timing).toEqual(c.timing);
    expect(f.applications).toBe(3000);
    expect(f.digest).toBe(configDigest(c));
    const m = f.message(42, 'scs-é');
    expect(Buffer.from(m).equals(Buffer.from(codec.encode({ type: 'ConfigApplied', v: 1, epoch: 42, scs: 'scs-é', config: c })))).toBe(true);
    const back = parseInput('ha.evt.scs.config', m);
    expect(back.ok && back.value.type === 'ConfigApplied' && back.value.config).toEqual(c);
    expect(f.message(43, 'scs-1')).not.toEqual(m);
  });
});
