import { describe, expect, it } from 'vitest';
import type { ClusterConfig } from '@ha/events';
import type { Effect } from './effects.js';
import { pairView } from './state.js';
import { Sim, pairConfig } from './sim.spec-kit.js';

// given / when / then over the pure decider, with a model of the LCAs carrying out its commands.
type Step = (s: Sim) => void;
const given = (config: ClusterConfig, ...setup: Step[]) => {
  const s = Sim.running(config);
  for (const f of setup) f(s);
  return {
    when(...acts: Step[]) {
      const before = s.effects.length;
      for (const f of acts) f(s);
      const effects = s.effects.slice(before).flatMap((e) => e.effects);
      return { then: (check: (s: Sim, effects: Effect[]) => void) => check(s, effects) };
    },
  };
};
const kill = (app: string): Step => (s) => s.kill(app);
const settle: Step = (s) => s.settle();
const commandsOf = (effects: Effect[], action: string) => effects.filter((e) => e.kind === 'command' && e.action === action).map((e) => (e.kind === 'command' ? e.app : ''));

describe('start-up (rule 5)', () => {
  it('starts every application as backup and promotes each pair\'s configured primary', () => {
    const s = Sim.running(pairConfig());
    expect(s.current('a0')).toBe('a0');
    expect(s.apps.get('b0')?.role).toBe('backup');
    expect(s.kv.get('a0')).toMatchObject({ app: 'a0', host: 'host-a', endpoint: '127.0.0.1:7000', epoch: s.state.epoch });
    expect(s.announcements).toEqual([]); // a first promotion is not a switchover
  });

  it('waits for the configured primary rather than promoting the backup that started first', () => {
    const s = new Sim(pairConfig());
    s.claim();
    s.scs({ type: 'ConfigApplied', v: 1, epoch: s.state.epoch, scs: 'scs-1', config: s.config });
    s.startLca('host-b');
    s.settle();
    expect(s.state.pairs.get('a0')?.switching).toBeNull();
    s.startLca('host-a');
    s.settle();
    expect(s.current('a0')).toBe('a0');
  });

  it('promotes the backup first when the primary\'s host is declared lost', () => {
    const s = new Sim(pairConfig());
    s.claim();
    s.scs({ type: 'ConfigApplied', v: 1, epoch: s.state.epoch, scs: 'scs-1', config: s.config });
    s.startLca('host-b');
    s.hostLost('host-a');
    s.settle();
    expect(s.current('a0')).toBe('b0');
  });
});

describe('primary fails (rule 1)', () => {
  it('promotes the backup when the primary process exits, and announces after the backup confirms', () => {
    given(pairConfig())
      .when(kill('a0'))
      .then((s, effects) => {
        expect(commandsOf(effects, 'promote')).toEqual(['b0']);
        expect(s.announcements).toEqual([]); // not before the confirmation
        expect(pairView(s.state.pairs.get('a0')!)).toBe('switching');
      });
    given(pairConfig())
      .when(kill('a0'), (s) => s.deliverOne())
      .then((s, effects) => {
        const exitSeq = s.log.find((r) => r.input.type === 'AppExited')?.seq;
        expect(s.current('a0')).toBe('b0');
        expect(s.announcements).toEqual([
          { pair: 'a0', from: { app: 'a0', host: 'host-a' }, to: { app: 'b0', host: 'host-b', endpoint: '127.0.0.1:7100' }, reason: 'process-exit', epoch: s.state.epoch, causeSeq: exitSeq, at: expect.any(String) },
        ]);
        expect(effects.filter((e) => e.kind === 'primary')).toHaveLength(1);
        expect(s.kv.get('a0')?.app).toBe('b0');
      });
  });

  it('restarts the failed application by decision, as backup, and it stays backup', () => {
    given(pairConfig())
      .when(kill('a0'), settle)
      .then((s, effects) => {
        expect(effects.some((e) => e.kind === 'timer' && e.id.startsWith('restart:a0:'))).toBe(true);
        expect(commandsOf(effects, 'start')).toEqual(['a0']);
        expect(s.apps.get('a0')).toMatchObject({ running: true, role: 'backup' });
        expect(s.state.apps.get('a0')).toMatchObject({ status: 'started', role: 'backup', restarts: 1 });
        expect(s.current('a0')).toBe('b0');
        expect(pairView(s.state.pairs.get('a0')!)).toBe('ok');
      });
  });

  it('backs off exponentially and gives up after maxAttempts with a restart-gave-up notice', () => {
    given(pairConfig({ maxAttempts: 2 }))
      .when(kill('b0'), settle, kill('b0'), settle, kill('b0'), settle)
      .then((s, effects) => {
        const delays = s.effects.flatMap((e) => e.effects.filter((x) => x.kind === 'timer' && x.id.startsWith('restart:b0')).map((x) => (x.kind === 'timer' ? x.at - (s.log.find((r) => r.seq === e.seq)?.at ?? 0) : 0)));
        expect(delays).toEqual([100, 200]);
        expect(effects.filter((e) => e.kind === 'notice' && e.notice === 'restart-gave-up')).toHaveLength(1);
        expect(s.state.apps.get('b0')).toMatchObject({ gaveUp: true, status: 'stopped' });
        expect(s.apps.get('b0')?.running).toBe(false);
      });
  });

  it('does nothing for an exit of an earlier incarnation', () => {
    given(pairConfig())
      .when((s) => {
        const h = s.hosts.get('host-a')!;
        s.feed({ type: 'AppExited', v: 1, host: 'host-a', lca: h.inc!, n: ++h.n, app: 'a0', incarnation: 1, pid: 1, code: 1, signal: null, expected: false, cause: 'exit' });
      })
      .then((s, effects) => {
        expect(effects).toEqual([]);
        expect(s.current('a0')).toBe('a0');
      });
  });

  it('drops a duplicate LCA event', () => {
    const s = Sim.running(pairConfig());
    const dup = s.log.find((r) => r.input.type === 'AppStarted')!;
    const before = s.state;
    s.feed(dup.input);
    expect(s.state.apps).toBe(before.apps);
    expect(s.state.counts.ignored).toBe(before.counts.ignored + 1);
  });
});

describe('autoSwitchover off (rule 2)', () => {
  it('shows the failure and waits for an operator: no promotion', () => {
    given(pairConfig({ autoSwitchover: false }))
      .when(kill('a0'), settle)
      .then((s, effects) => {
        expect(commandsOf(effects, 'promote')).toEqual([]);
        expect(s.current('a0')).toBeNull();
        expect(pairView(s.state.pairs.get('a0')!)).toBe('waiting-operator');
        expect(effects.some((e) => e.kind === 'notice' && e.notice === 'waiting-operator')).toBe(true);
        expect(s.apps.get('a0')).toMatchObject({ running: true, role: 'backup' }); // restarted, still backup
      });
  });
});

describe('host lost (rule 6)', () => {
  it('switches over every primary of a lost host, with reason host-lost', () => {
    given(pairConfig({ pairs: 3 }))
      .when((s) => s.crash('host-a'), settle)
      .then((s) => {
        expect(['a0', 'a1', 'a2'].map((p) => s.current(p))).toEqual(['b0', 'b1', 'b2']);
        expect(s.announcements.map((a) => [a.pair, a.reason])).toEqual([['a0', 'host-lost'], ['a1', 'host-lost'], ['a2', 'host-lost']]);
      });
  });

  it('demotes an old primary that comes back after a freeze, and never has two acting primaries', () => {
    given(pairConfig())
      .when((s) => s.freeze('host-a'), settle, (s) => s.unfreeze('host-a'), settle)
      .then((s) => {
        expect(s.current('a0')).toBe('b0');
        expect(s.apps.get('a0')).toMatchObject({ running: true, role: 'backup' });
        expect(s.violations).toEqual([]);
      });
  });

  it('demotes by command a returning primary that did not demote itself', () => {
    const s = Sim.running(pairConfig());
    s.freeze('host-a');
    s.settle();
    // An LCA that did not demote on its own (no LcaResumed check): its heartbeat says a0 is primary.
    const h = s.hosts.get('host-a')!;
    const a0 = s.apps.get('a0')!;
    s.scs({ type: 'HostReturned', v: 1, epoch: s.state.epoch, scs: 'scs-1', host: 'host-a', heartbeat: { type: 'Heartbeat', v: 1, host: 'host-a', lca: h.inc, n: h.n, pid: 1, apps: [{ app: 'a0', incarnation: a0.inc, pid: a0.pid, status: 'started', role: 'primary' }] } });
    h.frozen = false;
    const demotes = s.commands.filter((c) => c.action === 'demote').map((c) => c.app);
    expect(demotes).toEqual(['a0']);
    s.settle();
    expect(s.apps.get('a0')?.role).toBe('backup');
    expect(s.current('a0')).toBe('b0');
  });

  it('ignores a late HostLost whose evidence predates the host\'s LcaResumed', () => {
    const s = Sim.running(pairConfig());
    s.freeze('host-a', false); // paused, not yet declared
    s.unfreeze('host-a'); // back: LcaResumed stored
    const before = s.state.pairs;
    const effects = s.feed({ type: 'HostLost', v: 1, epoch: s.state.epoch, scs: 'scs-1', host: 'host-a', lca: s.hosts.get('host-a')!.inc, n: s.hosts.get('host-a')!.frozenAtN, lastHeartbeatAt: null, silenceMs: 1500 });
    expect(effects).toEqual([]);
    expect(s.state.pairs).toBe(before);
    expect(s.state.hosts.get('host-a')?.lca).toBe('up');
  });

  it('a paused primary host declared lost before it resumed demotes its primaries on its own', () => {
    const s = Sim.running(pairConfig());
    s.freeze('host-a', false);
    s.lateLost('host-a');
    s.settle(); // b0 promoted while host-a is frozen
    expect(s.current('a0')).toBe('b0');
    s.unfreeze('host-a');
    expect(s.log.at(-2)?.input).toMatchObject({ type: 'AppRoleChanged', app: 'a0', role: 'backup', command: null });
    s.settle();
    expect(s.violations).toEqual([]);
  });

  it('does not promote onto a lost host; the restarted old primary takes the pair back', () => {
    given(pairConfig())
      .when((s) => s.freeze('host-b'), kill('a0'))
      .then((s, effects) => {
        expect(commandsOf(effects, 'promote')).toEqual([]);
        expect(pairView(s.state.pairs.get('a0')!)).toBe('degraded');
        s.settle();
        expect(s.current('a0')).toBe('a0');
        // the same member back is no switchover: the KV entry says it, no announcement names a0 on both sides
        expect(s.announcements).toEqual([]);
        expect(s.kv.get('a0')).toMatchObject({ app: 'a0' });
      });
  });
});

describe('old primary out first (rule 7)', () => {
  it('re-sends a promotion that was not confirmed within promoteTimeoutMs', () => {
    given(pairConfig())
      .when(kill('a0'), (s) => {
        s.commands = [];
        const timer = [...s.timers.keys()].find((id) => id.startsWith('promote:'))!;
        s.timers.delete(timer);
        s.scs({ type: 'TimerFired', v: 1, epoch: s.state.epoch, scs: 'scs-1', timer });
      })
      .then((s, effects) => {
        expect(effects.some((e) => e.kind === 'notice' && e.notice === 'promotion-timed-out')).toBe(true);
        expect(commandsOf(effects, 'promote')).toEqual(['b0', 'b0']);
        s.settle();
        expect(s.current('a0')).toBe('b0');
      });
  });

  it('a refused promotion is answered: after its timeout the pair is not left waiting for it', () => {
    const s = Sim.running(pairConfig());
    s.kill('a0');
    const promote = s.commands.find((c) => c.action === 'promote' && c.app === 'b0')!;
    s.commands = s.commands.filter((c) => c !== promote);
    const h = s.hosts.get('host-b')!;
    // b0's LCA refuses (a failed precondition, say), then b0 reports itself unable to serve
    s.feed({ type: 'CommandRefused', v: 1, host: 'host-b', lca: h.inc!, n: ++h.n, app: 'b0', command: promote.id, reason: 'precondition failed', kind: 'precondition' });
    s.report('b0', 'service-unavailable');
    s.settle(); // the promotion times out; a0 is restarted and takes the pair back
    expect(s.state.pairs.get('a0')?.unresolved).toBeNull();
    expect(s.current('a0')).toBe('a0');
    expect(s.violations).toEqual([]);
  });

  it('promotes nobody while a member still acts as primary', () => {
    const s = Sim.running(pairConfig());
    // a0 is primary; make the log say b0 is primary too (an extra primary): it is demoted, not kept
    const h = s.hosts.get('host-b')!;
    const b = s.apps.get('b0')!;
    const effects = s.feed({ type: 'AppRoleChanged', v: 1, host: 'host-b', lca: h.inc!, n: ++h.n, app: 'b0', incarnation: b.inc!, role: 'primary', epoch: s.state.epoch, command: null });
    expect(commandsOf(effects, 'demote')).toEqual(['b0']);
    expect(commandsOf(effects, 'promote')).toEqual([]);
  });
});

describe('epochs (DESIGN section 2)', () => {
  it('ignores an SCS-written input from a stale epoch', () => {
    const s = Sim.running(pairConfig());
    const stale = s.state.epoch;
    s.claim('scs-2');
    const before = s.state;
    const effects = s.scs({ type: 'HostLost', v: 1, epoch: stale, scs: 'scs-1', host: 'host-a', lca: null, n: null, lastHeartbeatAt: null, silenceMs: 5000 });
    expect(effects).toEqual([]);
    expect(s.state.hosts).toBe(before.hosts);
    expect(s.state.pairs).toBe(before.pairs);
  });

  it('a new claim takes over a promotion under way with a command of its own epoch', () => {
    const s = Sim.running(pairConfig());
    s.kill('a0');
    s.commands = []; // the old leader's command was lost
    const effects = s.claim('scs-2');
    const promote = effects.find((e) => e.kind === 'command' && e.action === 'promote');
    expect(promote).toMatchObject({ app: 'b0', epoch: s.state.epoch });
    s.settle();
    expect(s.current('a0')).toBe('b0');
    expect(s.announcements).toHaveLength(1);
  });

  it('a command of the old epoch is refused by the LCA and changes nothing', () => {
    const s = Sim.running(pairConfig());
    s.kill('a0');
    s.claim('scs-2'); // the first promote (old epoch) is now stale; the claim re-sent one
    s.settle();
    expect(s.refusals).toContain('stale epoch');
    expect(s.current('a0')).toBe('b0');
    expect(s.violations).toEqual([]);
  });

  it('re-announces, idempotently, a switchover the old leader may not have published', () => {
    const s = Sim.running(pairConfig());
    s.kill('a0');
    s.settle();
    const effects = s.claim('scs-2');
    const again = effects.find((e) => e.kind === 'announce');
    expect(again).toMatchObject({ reconcile: true, announcement: s.announcements[0] });
  });
});
