// Random raw inputs, valid or not, over clusters of a few hosts and applications (ids such as "7"
// or "01" included, configurations changing under way, stale and duplicate events, commands
// answered or refused): after every input the state's derived parts hold (`checkState`: indexes,
// settled pairs), and replaying the log gives the same effects and the same state.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ClusterConfig, Input, Recorded } from '@ha/events';
import { checkState, replay, transition } from './decide.js';
import type { Effect } from './effects.js';
import { initialState } from './state.js';

const rng = (seed: number) => () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const HOSTS = ['h1', 'h2', '3', '0', 'hz'];
const APPS = ['a', 'b', '7', '10', 'c', 'd', '2', 'e', 'f', 'g', 'x', '01'];

const makeConfig = (r: () => number): ClusterConfig => {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const hosts = HOSTS.filter(() => r() < 0.8);
  if (hosts.length < 2) hosts.push(...HOSTS.filter((h) => !hosts.includes(h)).slice(0, 2 - hosts.length));
  const ids = APPS.filter(() => r() < 0.7).sort(() => r() - 0.5);
  const apps: { id: string; host: string; redundancy?: { backup: string; autoSwitchover: boolean; type: 'warm' | 'hot' } }[] = ids.map((id) => ({ id, host: pick(hosts) }));
  const inPair = new Set<string>();
  for (const a of apps) {
    if (inPair.has(a.id) || r() < 0.3) continue;
    const b = apps.find((x) => x.id !== a.id && !inPair.has(x.id) && x.host !== a.host);
    if (!b) continue;
    inPair.add(a.id); inPair.add(b.id);
    a.redundancy = { backup: b.id, autoSwitchover: r() < 0.8, type: 'warm' };
  }
  return {
    cluster: 'fz', hosts: hosts.map((id) => ({ id })),
    restart: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: r() < 0.5 ? 0 : 2 },
    timing: { promoteTimeoutMs: 500 },
    applications: apps.map((a) => ({ id: a.id, host: a.host, command: ['x'], endpoint: `e:${a.id}`, ...(a.redundancy ? { redundancy: a.redundancy } : {}) })),
  } as unknown as ClusterConfig;
};

const run = (seed: number, steps: number): void => {
  const r = rng(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const configs = [makeConfig(r), makeConfig(r), makeConfig(r)];
  let state = initialState();
  const log: Recorded<Input>[] = [];
  const effects: Effect[][] = [];
  let seq = 0; let at = 1_000_000;
  const commands: string[] = [];
  const outstanding: { id: string; host: string; app: string; action: string; incarnation: number | null }[] = [];
  const cfgApps = () => (state.config?.applications.map((a) => a.id) ?? []);
  for (let i = 0; i < steps; i++) {
    const currents = [...state.pairs.values()].flatMap((p) => (p.current ? [p.current] : []));
    const focus = currents.length && r() < 0.35 ? state.apps.get(pick(currents)) : undefined;
    const host = focus ? focus.host : r() < 0.9 && state.config ? pick(state.config.hosts.map((h) => h.id)) : pick(HOSTS);
    const h = state.hosts.get(host);
    const lca = r() < 0.85 ? (h?.incarnation ?? 0) : Math.floor(r() * (seq + 2));
    const n = r() < 0.85 ? (h?.lastN ?? 0) + 1 : Math.floor(r() * 5);
    const appsOn = [...state.apps.values()].filter((a) => a.host === host).map((a) => a.id);
    const running = appsOn.filter((x) => state.apps.get(x)?.incarnation != null);
    const app = focus ? focus.id : r() < 0.6 && running.length ? pick(running) : r() < 0.8 && appsOn.length ? pick(appsOn) : r() < 0.5 && cfgApps().length ? pick(cfgApps()) : pick(APPS);
    const inc = r() < 0.85 ? (state.apps.get(app)?.incarnation ?? seq) : Math.floor(r() * (seq + 2));
    const epoch = r() < 0.95 ? state.epoch : Math.max(0, state.epoch - 1);
    const pairs = [...state.pairs.keys()];
    const withCurrent = [...state.pairs.values()].filter((p) => p.current).map((p) => p.id);
    const pair = withCurrent.length && r() < 0.9 ? pick(withCurrent) : pairs.length && r() < 0.9 ? pick(pairs) : pick(APPS);
    const cmd = commands.length && r() < 0.9 ? pick(commands) : 'cmd:0:0';
    const lcaEv = { v: 1, host, lca, n } as const;
    const k = Math.floor(r() * 100);
    let input: unknown;
    if (outstanding.length && r() < 0.3) {
      const c = outstanding.splice(Math.floor(r() * outstanding.length), 1)[0]!;
      const hh = state.hosts.get(c.host);
      const ev = { v: 1, host: c.host, lca: hh?.incarnation ?? 0, n: (hh?.lastN ?? 0) + 1 };
      const aa = state.apps.get(c.app);
      if (c.action === 'start') input = aa?.incarnation != null ? { type: 'CommandRefused', ...ev, app: c.app, command: c.id, reason: 'running', kind: 'refused' } : { type: 'AppStarted', ...ev, app: c.app, pid: 9, role: 'backup', command: c.id, status: 'started' };
      else if (!aa || aa.incarnation !== c.incarnation || r() < 0.1) input = { type: 'CommandRefused', ...ev, app: c.app, command: c.id, reason: 'incarnation', kind: 'refused' };
      else if (c.action === 'stop') input = { type: 'AppExited', ...ev, app: c.app, incarnation: aa.incarnation, pid: 9, code: 0, signal: null, expected: true, cause: 'exit' };
      else input = { type: 'AppRoleChanged', ...ev, app: c.app, incarnation: aa.incarnation, role: c.action === 'promote' ? 'primary' : 'backup', epoch: state.epoch, command: c.id };
    } else if (k < 3) input = { type: 'ScsClaimed', v: 1, scs: pick(['s1', 's2']), deciderVersion: 1 };
    else if (k < 7) input = { type: 'ConfigApplied', v: 1, epoch, scs: 's', config: pick(configs) };
    else if (k < 10) input = { type: 'LcaStarted', v: 1, host, lca: 0, n: 0, pid: 1, bootId: 'b', ended: [] };
    else if (k < 26) input = { type: 'AppStarted', ...lcaEv, app, pid: 5, role: pick(['backup', 'backup', 'primary', 'none']), command: r() < 0.3 ? (state.apps.get(app)?.pendingStart ?? null) : null, status: pick(['started', 'started', 'starting']) };
    else if (k < 36) input = { type: 'AppExited', ...lcaEv, app, incarnation: inc, pid: 5, code: null, signal: null, expected: r() < 0.3, cause: pick(['exit', 'hung', 'connection-lost', 'probe-failed']) };
    else if (k < 44) input = { type: 'AppRoleChanged', ...lcaEv, app, incarnation: inc, role: pick(['primary', 'backup']), epoch: state.epoch, command: r() < 0.7 ? cmd : null };
    else if (k < 52) input = { type: 'CommandRefused', ...lcaEv, app, command: cmd, reason: 'no', kind: 'refused' };
    else if (k < 54) input = { type: 'LcaResumed', ...lcaEv, gapMs: 10, cause: 'paused' };
    else if (k < 64) input = { type: 'AppStatusChanged', ...lcaEv, app, incarnation: inc, status: pick(['started', 'service-unavailable']), detail: null };
    else if (k < 65) input = { type: 'AppSelfFenced', ...lcaEv, app, incarnation: inc, fenced: r() < 0.5, monoNs: '1' };
    else if (k < 66) input = { type: 'LcaDraining', ...lcaEv };
    else if (k < 68) input = { type: 'LcaStopped', ...lcaEv, drained: r() < 0.5 };
    else if (k < 71) input = { type: 'HostLost', v: 1, epoch, scs: 's', host, lca: r() < 0.8 ? (h?.incarnation ?? null) : null, n: r() < 0.5 ? null : Math.floor(r() * 10), lastHeartbeatAt: null, silenceMs: 1 };
    else if (k < 79) input = { type: 'HostReturned', v: 1, epoch, scs: 's', host, heartbeat: { type: 'Heartbeat', v: 1, host, lca: h?.incarnation ?? null, n: (h?.lastN ?? 0) + (r() < 0.8 ? 0 : -1), pid: 1, apps: appsOn.filter(() => r() < 0.8).map((a) => { const run = r() < 0.6; return { app: a, incarnation: run ? (state.apps.get(a)?.incarnation ?? 1) : null, pid: run ? 5 : null, status: run ? pick(['started', 'service-unavailable']) : 'stopped', role: run ? pick(['primary', 'backup']) : 'none' }; }) } };
    else if (k < 92) { const ts = [...state.timers.keys()].sort(); input = { type: 'TimerFired', v: 1, epoch, scs: 's', timer: ts.length && r() < 0.9 ? pick(ts) : 'nope' }; if (ts.length) at += 200; }
    else if (k < 97) input = { type: 'SwitchoverRequested', v: 1, pair, requestId: `r${i}`, by: 't' };
    else input = { type: pick(['PauseRequested', 'ResumeRequested']), v: 1, pair, requestId: `r${i}`, by: 't' };
    const rec: Recorded<Input> = { seq: ++seq, at: (at += 1 + Math.floor(r() * 50)), input: input as Input };
    const t = transition(state, rec);
    state = t.state;
    log.push(rec);
    effects.push(t.effects);
    for (const e of t.effects) if (e.kind === 'command') { commands.push(e.id); outstanding.push({ id: e.id, host: e.host, app: e.app, action: e.action, incarnation: e.incarnation }); }
    expect(checkState(state), `seed ${seed}, input ${i} (${rec.input.type})`).toEqual([]);
  }
  const replayed: Effect[][] = [];
  expect(replay(initialState(), log, (_, e) => replayed.push(e))).toEqual(state);
  expect(replayed).toEqual(effects);
};

/** More with HA_PROP_RUNS (each run is 200 inputs). */
const RUNS = Number(process.env['HA_PROP_RUNS'] ?? 100);

describe('decider over random raw inputs', () => {
  it('keeps its indexes and settled pairs right, and replays to the same effects and state', () => {
    fc.assert(fc.property(fc.integer(), (seed) => run(seed, 200)), { numRuns: RUNS });
  }, 300_000);
});
