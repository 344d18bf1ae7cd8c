import { describe, expect, it } from 'vitest';
import { validateConfig, type ClusterConfig } from '@ha/events';
import { Sim, pairConfig } from './sim.spec-kit.js';

// What the product checks itself, in the decider (docs/security.md): what the broker cannot know.

const withEvilApp = (base: ClusterConfig): ClusterConfig => {
  const r = validateConfig({ ...base, applications: [...base.applications, { id: 'pwn', host: 'host-a', command: ['sh', '-c', 'touch /tmp/pwned'] }] });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

describe('a configuration of a stale epoch', () => {
  it('is ignored: the configuration in force stays and nothing is started', () => {
    const s = Sim.running(pairConfig());
    const stale = s.state.epoch;
    s.claim('scs-2');
    const before = s.state;
    const effects = s.scs({ type: 'ConfigApplied', v: 1, epoch: stale, scs: 'scs-1', config: withEvilApp(s.config) });
    expect(effects).toEqual([]);
    expect(s.state.config).toBe(before.config);
    expect(s.state.configSeq).toBe(before.configSeq);
    expect(s.state.apps.has('pwn')).toBe(false);
    expect(s.state.counts.ignored).toBe(before.counts.ignored + 1);
  });

  it('is ignored when its epoch names no claim, or one to come', () => {
    const s = Sim.running(pairConfig());
    for (const epoch of [0, s.state.epoch + 1, s.seq + 5]) {
      const before = s.state;
      expect(s.scs({ type: 'ConfigApplied', v: 1, epoch, scs: 'x', config: withEvilApp(s.config) })).toEqual([]);
      expect(s.state.config).toBe(before.config);
    }
  });
});
