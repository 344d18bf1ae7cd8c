import { describe, expect, it } from 'vitest';
import type { Effect } from './effects.js';
import { pairView } from './state.js';
import { Sim, pairConfig } from './sim.spec-kit.js';

// DESIGN rules of issue 3, given / when / then over the pure decider and a model of the LCAs.
const actions = (effects: Effect[], action: string) => effects.flatMap((e) => (e.kind === 'command' && e.action === action ? [e.app] : []));
const notices = (effects: Effect[], notice: string) => effects.filter((e) => e.kind === 'notice' && e.notice === notice);
const since = (s: Sim, from: number) => s.effects.slice(from).flatMap((e) => e.effects);

describe('Service Unavailable (rule 3)', () => {
  it('primary unavailable, backup available: the old primary is demoted and confirmed before the backup is promoted', () => {
    const s = Sim.running(pairConfig());
    const mark = s.effects.length;
    s.report('a0', 'service-unavailable');
    const reportSeq = s.seq;
    expect(actions(since(s, mark), 'demote')).toEqual(['a0']);
    expect(actions(since(s, mark), 'promote')).toEqual([]); // not before the demotion is confirmed
    s.deliverOne(); // a0 confirms its demotion
    expect(actions(since(s, mark), 'promote')).toEqual(['b0']);
    s.settle();
    expect(s.current('a0')).toBe('b0');
    expect(s.announcements).toEqual([expect.objectContaining({ from: { app: 'a0', host: 'host-a' }, to: expect.objectContaining({ app: 'b0' }), reason: 'service-unavailable', causeSeq: reportSeq })]);
    expect(s.violations).toEqual([]);
  });

  it('both unavailable: no switchover until the backup reports started again, then switchover to it', () => {
    const s = Sim.running(pairConfig());
    s.report('b0', 'service-unavailable');
    s.report('a0', 'service-unavailable');
    s.settle();
    expect(s.current('a0')).toBe('a0');
    expect(s.announcements).toEqual([]);
    expect(pairView(s.state.pairs.get('a0')!, s.state)).toBe('degraded');
    s.report('b0', 'started');
    s.settle();
    expect(s.current('a0')).toBe('b0');
    expect(s.announcements.map((a) => a.reason)).toEqual(['service-unavailable']);
  });

  it('autoSwitchover off: shown as waiting-operator, nothing switched', () => {
    const s = Sim.running(pairConfig({ autoSwitchover: false }));
    s.report('a0', 'service-unavailable');
    s.settle();
    expect(s.current('a0')).toBe('a0');
    expect(pairView(s.state.pairs.get('a0')!, s.state)).toBe('waiting-operator');
  });

  it('an SDK application is not promoted while it is still starting', () => {
    const s = Sim.running(pairConfig());
    s.kill('a0');
    s.settle();
    expect(s.current('a0')).toBe('b0');
    // b0 (primary) now fails while a0 restarted but reported nothing yet: a0 is "starting"
    const h = s.hosts.get('host-a')!;
    s.feed({ type: 'AppStarted', v: 1, host: 'host-a', lca: h.inc!, n: ++h.n, app: 'a0', pid: 9, role: 'backup', command: null, status: 'starting' });
    expect(s.state.apps.get('a0')?.status).toBe('starting');
  });
});

describe('failure reasons (rule 1)', () => {
  for (const cause of ['hung', 'connection-lost', 'probe-failed'] as const) {
    it(`a primary the LCA found ${cause} (killed and reaped) is switched over with reason ${cause}`, () => {
      const s = Sim.running(pairConfig());
      s.fail('a0', cause);
      s.settle();
      expect(s.current('a0')).toBe('b0');
      expect(s.announcements.map((a) => a.reason)).toEqual([cause]);
    });
  }
});

describe('manual switchover', () => {
  it('demotes and confirms, then promotes; reason manual; no process is restarted', () => {
    const s = Sim.running(pairConfig());
    const mark = s.effects.length;
    const accepted = s.request('SwitchoverRequested', 'a0', 'req-1');
    const reqSeq = s.seq;
    expect(notices(accepted, 'switchover-accepted')).toEqual([expect.objectContaining({ requestId: 'req-1' })]);
    s.settle();
    expect(s.current('a0')).toBe('b0');
    expect(s.apps.get('a0')).toMatchObject({ running: true, role: 'backup' });
    expect(actions(since(s, mark), 'start')).toEqual([]);
    expect(s.announcements).toEqual([expect.objectContaining({ reason: 'manual', causeSeq: reqSeq, from: { app: 'a0', host: 'host-a' } })]);
    expect(s.violations).toEqual([]);
  });

  it('works for a pair with autoSwitchover off', () => {
    const s = Sim.running(pairConfig({ autoSwitchover: false }));
    s.request('SwitchoverRequested', 'a0');
    s.settle();
    expect(s.current('a0')).toBe('b0');
  });

  it('is refused, with the reason, when the backup is not available or the pair is mid-switchover', () => {
    const s = Sim.running(pairConfig());
    s.report('b0', 'service-unavailable');
    expect(notices(s.request('SwitchoverRequested', 'a0', 'x'), 'switchover-refused')).toEqual([expect.objectContaining({ requestId: 'x', detail: expect.stringContaining('b0 is not available') })]);
    s.report('b0', 'started');
    s.request('SwitchoverRequested', 'a0', 'y');
    expect(notices(s.request('SwitchoverRequested', 'a0', 'z'), 'switchover-refused')).toEqual([expect.objectContaining({ requestId: 'z', detail: expect.stringContaining('mid-switchover') })]);
    expect(notices(s.request('SwitchoverRequested', 'nope', 'w'), 'switchover-refused')).toHaveLength(1);
  });

  it('if the old primary exits instead of confirming, the backup is promoted all the same', () => {
    const s = Sim.running(pairConfig());
    s.request('SwitchoverRequested', 'a0');
    s.commands = [];
    s.kill('a0');
    s.settle();
    expect(s.current('a0')).toBe('b0');
    expect(s.announcements.map((a) => a.reason)).toEqual(['manual']);
  });
});

describe('pause and resume', () => {
  it('while paused, failures are shown and nothing is done automatically; resume repairs', () => {
    const s = Sim.running(pairConfig());
    s.request('PauseRequested', 'a0');
    expect(pairView(s.state.pairs.get('a0')!, s.state)).toBe('paused');
    const mark = s.effects.length;
    s.kill('a0');
    s.settle();
    expect(since(s, mark).filter((e) => e.kind === 'command' || e.kind === 'timer')).toEqual([]);
    expect(s.state.pairs.get('a0')).toMatchObject({ current: null, failure: { app: 'a0', reason: 'process-exit' } });
    expect(notices(s.request('SwitchoverRequested', 'a0'), 'switchover-refused')).toHaveLength(1);
    s.request('ResumeRequested', 'a0');
    s.settle();
    expect(s.current('a0')).toBe('b0');
    expect(s.apps.get('a0')).toMatchObject({ running: true, role: 'backup' });
  });
});

describe('drain', () => {
  it('switches the host\'s primaries over first, then its applications stop and the host is drained, not lost', () => {
    const s = Sim.running(pairConfig({ pairs: 2 }));
    s.drain('host-a');
    s.settle();
    expect([s.current('a0'), s.current('a1')]).toEqual(['b0', 'b1']);
    expect(s.announcements.map((a) => a.reason)).toEqual(['manual', 'manual']);
    expect(s.state.hosts.get('host-a')).toMatchObject({ lca: 'drained' });
    expect([...s.state.timers.values()].filter((t) => t.purpose.kind === 'restart')).toEqual([]);
    expect(s.violations).toEqual([]);
    s.startLca('host-a');
    s.settle();
    expect(s.state.hosts.get('host-a')?.lca).toBe('up');
    expect(s.apps.get('a0')).toMatchObject({ running: true, role: 'backup' });
  });
});

describe('a promotion given up on (rule 7)', () => {
  it('is answered before any other member is promoted', () => {
    const s = Sim.running(pairConfig());
    s.kill('a0'); // promote b0 sent, not yet delivered
    s.report('b0', 'service-unavailable'); // b0 no longer available: the promotion will be given up
    const promoteTimer = [...s.timers.keys()].find((id) => id.startsWith('promote:'))!;
    s.timers.delete(promoteTimer);
    s.scs({ type: 'TimerFired', v: 1, epoch: s.state.epoch, scs: 'scs-1', timer: promoteTimer });
    expect(s.state.pairs.get('a0')?.unresolved).toMatchObject({ app: 'b0' });
    // a0 restarts and is available again, but b0 may still act on its command: nobody else is promoted
    for (let i = 0; i < 20; i++) if (!s.deliverOne((c) => c.host === 'host-a')) s.fireNextTimer();
    expect(s.state.apps.get('a0')?.status).toBe('started');
    expect(s.commands.filter((c) => c.action === 'promote').map((c) => c.app)).toEqual(['b0']);
    s.settle();
    expect(s.violations).toEqual([]);
    expect(s.current('a0')).not.toBeNull();
  });
});
