import { describe, expect, it } from 'vitest';
import { policyOf } from '@ha/events';
import { Sim, pairConfig } from './sim.spec-kit.js';

describe('a configuration in the state (decision 0013)', () => {
  it('is kept as its policy: nothing of the commands, probes or environments the LCAs need', () => {
    const config = pairConfig();
    const s = new Sim(config);
    s.claim();
    s.scs({ type: 'ConfigApplied', v: 1, epoch: s.state.epoch, scs: 'scs-1', config });
    expect(s.state.config).toEqual(policyOf(config));
    expect(JSON.stringify(s.state.config)).not.toContain('command');
    expect(JSON.stringify(s.state.config)).not.toContain('probe');
  });

  it('makes each new pair\'s state with the fields in their order, and endpoints still reach the primary entry', () => {
    const s = Sim.running(pairConfig());
    const p = new Sim(pairConfig());
    p.claim();
    p.scs({ type: 'ConfigApplied', v: 1, epoch: p.state.epoch, scs: 'scs-1', config: p.config });
    expect(Object.keys(p.state.pairs.get('a0') ?? {})).toEqual(['id', 'primary', 'backup', 'type', 'autoSwitchover', 'current', 'currentSince', 'switching', 'failure', 'lastSwitchover', 'lastRefusal', 'paused', 'unresolved']);
    expect(p.state.pairs.get('a0')).toMatchObject({ id: 'a0', primary: 'a0', backup: 'b0', type: 'warm', autoSwitchover: true, current: null, paused: false, unresolved: null });
    expect(s.kv.get('a0')).toMatchObject({ app: 'a0', endpoint: '127.0.0.1:7000' });
  });
});
