// Old decider against the new one on the fuzz test's random raw inputs (decide.fuzz.unit.spec.ts), the
// generator driven by the new state: effects and the whole state (as plain data, less the entries'
// new pair/pairIndex, which are checked against pairOfApp and pairs instead) after every input, and
// old states read again and decided from. OLDROOT is a built copy of an older commit (decision 0012).
// node bench/differential/fuzz.mjs OLDROOT NEWROOT [SEEDS] [STEPS]
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
const [OLD, NEW, SEEDS, STEPS] = [resolve(process.argv[2]), resolve(process.argv[3]), +(process.argv[4] ?? 200), +(process.argv[5] ?? 300)];
const O = await import(`${OLD}/apps/scs/dist/decider/index.js`);
const N = await import(`${NEW}/apps/scs/dist/decider/index.js`);

const plain = (s, isNew) => {
  const apps = [];
  for (const [k, a] of s.apps.entries()) {
    if (isNew) {
      const { pair, pairIndex, ...rest } = a;
      if (pair !== (s.pairOfApp.get(k) ?? null)) throw new Error(`app ${k}: pair ${pair} vs pairOfApp ${s.pairOfApp.get(k)}`);
      if (pairIndex !== (pair === null ? null : s.pairs.indexOf(pair))) throw new Error(`app ${k}: pairIndex ${pairIndex}`);
      if (pair !== null && s.pairs.at(pairIndex) !== s.pairs.get(pair)) throw new Error(`app ${k}: pairs.at(${pairIndex}) is not pairs.get(${pair})`);
      apps.push([k, rest]);
    } else apps.push([k, a]);
  }
  const m = (pm) => [...pm.entries()];
  return {
    epoch: s.epoch, active: s.active, deciderVersion: s.deciderVersion, config: s.config, configSeq: s.configSeq, lastSeq: s.lastSeq, counts: s.counts,
    hosts: m(s.hosts), apps, pairs: m(s.pairs), timers: m(s.timers), pairOfApp: [...s.pairOfApp.entries()],
    index: { appsOfHost: m(s.index.appsOfHost), appOrder: m(s.index.appOrder), nextAppOrder: s.index.nextAppOrder, timersOf: m(s.index.timersOf), unsettled: [...s.index.unsettled.keys()] },
  };
};
let inputs = 0, transitions = 0, effectsN = 0, stateCmp = 0, reread = 0, redecided = 0, diffs = 0;
const fail = (what, ctx) => { diffs++; if (diffs < 5) console.error('DIFF', what, JSON.stringify(ctx).slice(0, 2000)); };

// ---- the fuzz test's generator (decide.fuzz.unit.spec.ts), driven by the new state ----
const rng = (seed) => () => { seed |= 0; seed = (seed + 0x6d2b79f5) | 0; let t = Math.imul(seed ^ (seed >>> 15), 1 | seed); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const HOSTS = ['h1', 'h2', '3', '0', 'hz'];
const APPS = ['a', 'b', '7', '10', 'c', 'd', '2', 'e', 'f', 'g', 'x', '01', 'constructor', '__proto__'];
const makeConfig = (r) => {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const hosts = HOSTS.filter(() => r() < 0.8);
  if (hosts.length < 2) hosts.push(...HOSTS.filter((h) => !hosts.includes(h)).slice(0, 2 - hosts.length));
  const ids = APPS.filter(() => r() < 0.7).sort(() => r() - 0.5);
  const apps = ids.map((id) => ({ id, host: pick(hosts) }));
  const inPair = new Set();
  for (const a of apps) {
    if (inPair.has(a.id) || r() < 0.3) continue;
    const b = apps.find((x) => x.id !== a.id && !inPair.has(x.id) && x.host !== a.host);
    if (!b) continue;
    inPair.add(a.id); inPair.add(b.id);
    a.redundancy = { backup: b.id, autoSwitchover: r() < 0.8, type: 'warm' };
  }
  return { cluster: 'fz', hosts: hosts.map((id) => ({ id })), restart: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: r() < 0.5 ? 0 : 2 }, timing: { promoteTimeoutMs: 500 },
    applications: apps.map((a) => ({ id: a.id, host: a.host, command: ['x'], endpoint: `e:${a.id}`, ...(a.redundancy ? { redundancy: a.redundancy } : {}) })) };
};
const genInput = (r, state, ctx, i) => {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const { configs, commands, outstanding } = ctx; const seq = ctx.seq;
  const cfgApps = () => (state.config?.applications.map((a) => a.id) ?? []);
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
  const lcaEv = { v: 1, host, lca, n };
  const k = Math.floor(r() * 100);
  let input;
  if (outstanding.length && r() < 0.3) {
    const c = outstanding.splice(Math.floor(r() * outstanding.length), 1)[0];
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
  else if (k < 92) { const ts = [...state.timers.keys()].sort(); input = { type: 'TimerFired', v: 1, epoch, scs: 's', timer: ts.length && r() < 0.9 ? pick(ts) : 'nope' }; if (ts.length) ctx.at += 200; }
  else if (k < 97) input = { type: 'SwitchoverRequested', v: 1, pair, requestId: `r${i}`, by: 't' };
  else input = { type: pick(['PauseRequested', 'ResumeRequested']), v: 1, pair, requestId: `r${i}`, by: 't' };
  return input;
};

const step = (so, sn, rec, where) => {
  const to = O.transition(so, rec), tn = N.transition(sn, rec);
  transitions++; effectsN += tn.effects.length;
  if (!isDeepStrictEqual(to.effects, tn.effects)) fail('effects', { where, rec, old: to.effects, new: tn.effects });
  return [to, tn];
};
const cmpState = (so, sn, where) => { stateCmp++; const a = plain(so, false), b = plain(sn, true); if (!isDeepStrictEqual(a, b)) fail('state', { where }); };

for (let seed = 1; seed <= SEEDS; seed++) {
  const r = rng(seed * 7919);
  const ctx = { configs: [makeConfig(r), makeConfig(r), makeConfig(r)], commands: [], outstanding: [], seq: 0, at: 1_000_000 };
  let so = O.initialState(), sn = N.initialState();
  const held = []; // older states of both, with their plain data when they were made
  for (let i = 0; i < STEPS; i++) {
    const input = genInput(r, sn, ctx, i);
    const rec = { seq: ++ctx.seq, at: (ctx.at += 1 + Math.floor(r() * 50)), input };
    inputs++;
    const [to, tn] = step(so, sn, rec, { seed, i });
    so = to.state; sn = tn.state;
    cmpState(so, sn, { seed, i });
    for (const e of tn.effects) if (e.kind === 'command') { ctx.commands.push(e.id); ctx.outstanding.push({ id: e.id, host: e.host, app: e.app, action: e.action, incarnation: e.incarnation }); }
    if (r() < 0.1) held.push({ so, sn, snap: plain(sn, true), seq: ctx.seq });
    if (held.length && r() < 0.1) {
      // an old state read again: unchanged, and deciding from it (another input) agrees too
      const hh = held[Math.floor(r() * held.length)];
      reread++;
      if (!isDeepStrictEqual(plain(hh.sn, true), hh.snap)) fail('old state changed', { seed, i });
      cmpState(hh.so, hh.sn, { seed, i, reread: true });
      const alt = genInput(rng(seed * 31 + i), hh.sn, { ...ctx, commands: [...ctx.commands], outstanding: [...ctx.outstanding], seq: hh.seq }, i);
      const altRec = { seq: hh.seq + 1, at: ctx.at, input: alt };
      const [ao, an] = step(hh.so, hh.sn, altRec, { seed, i, redecide: true });
      redecided++;
      cmpState(ao.state, an.state, { seed, i, redecide: true });
    }
  }
  // the newest state again, after the old ones were read
  cmpState(so, sn, { seed, final: true });
}
console.log(JSON.stringify({ fuzz: { seeds: SEEDS, steps: STEPS, inputs, transitions, effects: effectsN, stateComparisons: stateCmp, oldStatesReread: reread, redecidedFromOld: redecided, differences: diffs } }));

