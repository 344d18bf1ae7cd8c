import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { replay } from './decide.js';
import type { Effect } from './effects.js';
import { initialState } from './state.js';
import { MAX_EVENT_NUMBER_JUMP } from './decide.js';
import { Sim, pairConfig } from './sim.spec-kit.js';

const HOSTS = ['host-a', 'host-b', 'host-c'] as const;
const APPS = ['a0', 'b0', 'a1', 'b1'] as const;

type Action =
  | { k: 'kill'; app: (typeof APPS)[number] }
  | { k: 'crash' | 'freeze' | 'pause' | 'lateLost' | 'unfreeze' | 'restartLca'; host: (typeof HOSTS)[number] }
  | { k: 'deliver' }
  | { k: 'timer' }
  | { k: 'claim'; scs: string }
  | { k: 'report'; app: (typeof APPS)[number]; status: 'started' | 'service-unavailable' }
  | { k: 'fail'; app: (typeof APPS)[number]; cause: 'hung' | 'connection-lost' | 'probe-failed' }
  | { k: 'operator'; type: 'SwitchoverRequested' | 'PauseRequested' | 'ResumeRequested'; pair: 'a0' | 'a1' }
  | { k: 'drain'; host: (typeof HOSTS)[number] }
  | { k: 'staleInput'; host: (typeof HOSTS)[number] }
  | { k: 'forged'; host: (typeof HOSTS)[number]; app: (typeof APPS)[number]; kind: Forgery; x: number };

/** Host events no LCA of the configuration can have sent (docs/security.md, "What the product checks itself"). */
const FORGERIES = ['unknownHost', 'unknownApp', 'farNumber', 'otherIncarnation', 'futureIncarnation'] as const;
type Forgery = (typeof FORGERIES)[number];

const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('kill' as const), app: fc.constantFrom(...APPS) }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constantFrom('crash' as const, 'freeze' as const, 'pause' as const, 'lateLost' as const, 'unfreeze' as const, 'restartLca' as const), host: fc.constantFrom(...HOSTS) }), weight: 3 },
  { arbitrary: fc.constant({ k: 'deliver' as const }), weight: 6 },
  { arbitrary: fc.constant({ k: 'timer' as const }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('claim' as const), scs: fc.constantFrom('scs-1', 'scs-2') }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('staleInput' as const), host: fc.constantFrom(...HOSTS) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('forged' as const), host: fc.constantFrom(...HOSTS), app: fc.constantFrom(...APPS), kind: fc.constantFrom(...FORGERIES), x: fc.nat({ max: 2 ** 52 }) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('report' as const), app: fc.constantFrom(...APPS), status: fc.constantFrom('started' as const, 'service-unavailable' as const) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('fail' as const), app: fc.constantFrom(...APPS), cause: fc.constantFrom('hung' as const, 'connection-lost' as const, 'probe-failed' as const) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('operator' as const), type: fc.constantFrom('SwitchoverRequested' as const, 'PauseRequested' as const, 'ResumeRequested' as const), pair: fc.constantFrom('a0' as const, 'a1' as const) }), weight: 2 },
  { arbitrary: fc.record({ k: fc.constant('drain' as const), host: fc.constantFrom(...HOSTS) }), weight: 1 },
);

const run = (s: Sim, a: Action): void => {
  const h = 'host' in a ? s.hosts.get(a.host)! : undefined;
  switch (a.k) {
    case 'kill': return s.kill(a.app);
    case 'crash': if (h?.alive) s.crash(a.host); return;
    case 'freeze': return s.freeze(a.host);
    case 'pause': return s.freeze(a.host, false);
    case 'lateLost': return s.lateLost(a.host);
    case 'unfreeze': return s.unfreeze(a.host);
    case 'restartLca': if (h && !h.frozen) s.startLca(a.host); return;
    case 'deliver': s.deliverOne(); return;
    case 'timer': s.fireNextTimer(); return;
    case 'claim': s.claim(a.scs); return;
    case 'report': return s.report(a.app, a.status);
    case 'fail': return s.fail(a.app, a.cause);
    case 'operator': s.request(a.type, a.pair); return;
    case 'drain': return s.drain(a.host);
    case 'staleInput': {
      if (s.state.epoch < 2) return;
      const before = s.state;
      const effects = s.scs({ type: 'HostLost', v: 1, epoch: s.state.epoch - 1, scs: 'old', host: a.host, lca: null, n: null, lastHeartbeatAt: null, silenceMs: 9999 });
      // a stale epoch changes nothing
      if (effects.length !== 0 || s.state.hosts !== before.hosts || s.state.pairs !== before.pairs || s.state.apps !== before.apps || s.state.timers !== before.timers) {
        s.violations.push(`stale input at seq ${s.seq} changed the state`);
      }
      return;
    }
    case 'forged': {
      const hs = s.state.hosts.get(a.host);
      const inc = hs?.incarnation ?? 0;
      const last = hs?.lastN ?? 0;
      const ev = ((): { host: string; app: string; lca: number; n: number } => {
        switch (a.kind) {
          case 'unknownHost': return { host: `ghost-${a.x % 15000}`, app: a.app, lca: inc, n: 1 };
          case 'unknownApp': return { host: a.host, app: `pwn-${a.x % 7}`, lca: inc, n: last + 1 };
          case 'farNumber': return { host: a.host, app: a.app, lca: inc, n: last + MAX_EVENT_NUMBER_JUMP + 1 + (a.x % 2 ** 52) };
          case 'otherIncarnation': return { host: a.host, app: a.app, lca: inc + 1 + (a.x % (s.seq + 1)), n: last + 1 };
          case 'futureIncarnation': return { host: a.host, app: a.app, lca: s.seq + 1 + (a.x % 100), n: 1 };
        }
      })();
      if (hs?.incarnation == null && a.kind !== 'unknownHost') return; // nothing to forge against yet
      const before = s.state;
      const effects = s.feed({ type: 'AppStatusChanged', v: 1, ...ev, incarnation: s.state.apps.get(a.app)?.incarnation ?? 1, status: 'service-unavailable', detail: 'forged' });
      if (effects.length !== 0 || s.state.hosts !== before.hosts || s.state.pairs !== before.pairs || s.state.apps !== before.apps || s.state.timers !== before.timers) {
        s.violations.push(`forged input (${a.kind}) at seq ${s.seq} changed the state`);
      }
    }
  }
};

/** Faults stop: every host comes back, everything pending is carried out. */
const heal = (s: Sim): void => {
  for (const h of s.hosts.values()) if (h.frozen) s.unfreeze(h.id);
  s.settle(120_000); // drains finish
  for (const h of s.hosts.values()) if (!h.alive) s.startLca(h.id);
  for (const p of ['a0', 'a1']) s.request('ResumeRequested', p);
  for (const a of s.apps.values()) if (a.running) s.report(a.id, 'started');
  s.settle(120_000);
};

const config = pairConfig({ pairs: 2 });
/** More runs with HA_PROP_RUNS=5000 (a longer hunt); 300 in CI. */
const RUNS = Number(process.env['HA_PROP_RUNS'] ?? 300);

describe('decider properties (fast-check over random fault sequences)', () => {
  it('never two acting primaries of a pair; stale epochs and forged host events change nothing', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 80 }), (actions) => {
        const s = Sim.running(config);
        for (const a of actions) run(s, a);
        heal(s);
        expect(s.violations).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('every failed primary with an available backup ends up replaced (autoSwitchover on)', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 80 }), (actions) => {
        const s = Sim.running(config);
        for (const a of actions) run(s, a);
        heal(s);
        for (const pair of ['a0', 'a1']) {
          const current = s.current(pair);
          expect(current, `pair ${pair} has a primary after healing`).not.toBeNull();
          expect(s.primaries(pair)).toEqual([current]);
          expect(s.kv.get(pair)?.app).toBe(current);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('the same inputs always give the same effects (replay reproduces every decision)', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 60 }), (actions) => {
        const s = Sim.running(config);
        for (const a of actions) run(s, a);
        const replayed: { seq: number; effects: Effect[] }[] = [];
        const end = replay(initialState(), s.log, (rec, effects) => replayed.push({ seq: rec.seq, effects }));
        expect(replayed).toEqual(s.effects);
        expect(end).toEqual(s.state);
      }),
      { numRuns: RUNS },
    );
  });
});
