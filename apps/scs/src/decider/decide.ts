import type { AppExited, AppRoleChanged, AppSelfFenced, AppStarted, AppStatusChanged, CommandAction, ConfigPolicy, CommandRefused, ConfigApplied, ExitCause, HostLost, HostReturned, Input, LcaDraining, LcaResumed, LcaStarted, LcaStopped, PauseRequested, Recorded, ResumeRequested, ScsClaimed, SwitchoverReason, SwitchoverRequested, TimerFired } from '@ha/events';
import { pairsOf, policyOf } from '@ha/events';
import { Draft, withPair } from './draft.js';
import { isoTime } from './isoTime.js';
import type { Effect } from './effects.js';
import { appTimers, keyOrder, newApp, PFixedMap, PMap, newHost, pairTimers, timerOwner, type AppState, type Failure, type HostState, type PairState, type State } from './state.js';

export type Transition = Readonly<{ state: State; effects: Effect[] }>;

const RESTART_DEFAULTS = { initialDelayMs: 250, maxDelayMs: 30000, maxAttempts: 0 } as const;
const PROMOTE_TIMEOUT_DEFAULT = 2000;

/** One input's context: the draft, where the input sits in the log, and command numbering. */
type Ctx = { d: Draft; seq: number; at: number; commands: number };

/**
 * The decider: given the state and the next input of the log, the next state and the effects to
 * carry out. Pure and deterministic: no clock (time is `rec.at`), no randomness, no I/O.
 */
export const transition = (state: State, rec: Recorded<Input>): Transition => {
  const d = new Draft(state);
  const c: Ctx = { d, seq: rec.seq, at: rec.at, commands: 0 };
  const accepted = apply(c, rec.input);
  const counts = { inputs: state.counts.inputs + 1, ignored: state.counts.ignored + (accepted ? 0 : 1) };
  return { state: d.done(rec.seq, counts), effects: d.effects };
};

/** Folds a whole log; the effects of each input are handed to `onEffects` (replay, audit). */
export const replay = (
  state: State,
  log: Iterable<Recorded<Input>>,
  onEffects: (rec: Recorded<Input>, effects: Effect[]) => void = () => undefined,
): State => {
  let s = state;
  for (const rec of log) {
    const t = transition(s, rec);
    onEffects(rec, t.effects);
    s = t.state;
  }
  return s;
};

const apply = (c: Ctx, input: Input): boolean => {
  switch (input.type) {
    case 'ScsClaimed':
      return onClaim(c, input);
    case 'ConfigApplied':
      return fromCurrentEpoch(c, input.epoch) && onConfig(c, input);
    case 'HostLost':
      return fromCurrentEpoch(c, input.epoch) && onHostLost(c, input);
    case 'HostReturned':
      return fromCurrentEpoch(c, input.epoch) && onHostReturned(c, input);
    case 'TimerFired':
      return fromCurrentEpoch(c, input.epoch) && onTimer(c, input);
    case 'LcaStarted':
      return onLcaStarted(c, input);
    case 'AppStarted':
      return configuredApp(c, input) && freshFromLca(c, input) && onAppStarted(c, input);
    case 'AppExited':
      return configuredApp(c, input) && freshFromLca(c, input) && onAppExited(c, input);
    case 'AppRoleChanged':
      return configuredApp(c, input) && freshFromLca(c, input) && onRoleChanged(c, input);
    case 'CommandRefused':
      return configuredApp(c, input) && freshFromLca(c, input) && onRefused(c, input);
    case 'LcaResumed':
      return freshFromLca(c, input) && onResumed(c, input);
    case 'AppStatusChanged':
      return configuredApp(c, input) && freshFromLca(c, input) && onStatusChanged(c, input);
    case 'AppSelfFenced':
      return configuredApp(c, input) && freshFromLca(c, input) && onSelfFenced(c, input);
    case 'LcaDraining':
      return freshFromLca(c, input) && onDraining(c, input);
    case 'LcaStopped':
      return freshFromLca(c, input) && onLcaStopped(c, input);
    case 'SwitchoverRequested':
      return onSwitchoverRequested(c, input);
    case 'PauseRequested':
    case 'ResumeRequested':
      return onPause(c, input);
  }
};

/** An SCS-written input counts only under the latest claim before it: a paused old leader appends nothing that counts. */
const fromCurrentEpoch = (c: Ctx, epoch: number): boolean => c.d.base.epoch > 0 && epoch === c.d.base.epoch;

/**
 * How far beyond the last event number seen from an LCA incarnation the next one may be. An LCA
 * numbers its events 1, 2, 3, ... and stores each before it builds the next, so in the log they are
 * consecutive; a number further ahead than this is not its (a forged one made every later real
 * event of the host count as old: docs/security.md).
 */
export const MAX_EVENT_NUMBER_JUMP = 1000;

/** A host the configuration in force names (before any configuration, every host counts). */
const namedHost = (c: Ctx, id: string): HostState | undefined => {
  const h = c.d.getHost(id);
  if (h || c.d.base.config !== null) return h;
  const n = newHost(id);
  c.d.putHost(n);
  return n;
};

/**
 * An event about an application the configuration in force does not name on that host is ignored
 * before its number counts (a forged one would otherwise make the real event of that number a
 * duplicate). Before any configuration, any application counts.
 */
const configuredApp = (c: Ctx, ev: { host: string; app: string }): boolean => c.d.base.config === null || c.d.getApp(ev.app)?.host === ev.host;

/**
 * Drops duplicates, events of an earlier LCA incarnation, and what no LCA of a configured host can
 * have sent: an unnamed host, an incarnation the decider saw start for no host (a later one than
 * the host's, or a position not yet in the log), an event number far beyond the last.
 */
const freshFromLca = (c: Ctx, ev: { host: string; lca: number; n: number }): boolean => {
  const h = namedHost(c, ev.host);
  if (!h || ev.lca >= c.seq) return false;
  if (h.incarnation === null) {
    c.d.host(ev.host, { incarnation: ev.lca, lastN: ev.n, resumedN: 0 });
    return true;
  }
  if (ev.lca !== h.incarnation || ev.n <= h.lastN || ev.n > h.lastN + MAX_EVENT_NUMBER_JUMP) return false;
  c.d.lastN(ev.host, ev.n);
  return true;
};

/** The application on `host`, if the configuration in force names it there (before any configuration, any). */
const appOn = (c: Ctx, id: string, host: string): AppState | undefined => {
  const a = c.d.getApp(id);
  if (a) return a.host === host ? a : undefined;
  if (c.d.base.config !== null) return undefined;
  const pair = c.d.base.pairOfApp.get(id);
  const n = newApp(id, host, pair ?? null, pair === undefined ? null : (c.d.pairs.indexOf(pair) ?? null));
  c.d.putApp(n);
  return n;
};

const pairOf = (c: Ctx, app: string): PairState | undefined => c.d.pairOfApp(app);

/** The applications of a host (in the order decisions follow), from the index: no scan. */
const appsOnHost = (c: Ctx, host: string): AppState[] => {
  const out: AppState[] = [];
  for (const id of c.d.appIdsOn(host)) {
    const a = c.d.getApp(id);
    if (a) out.push(a);
  }
  return out;
};

const restartPolicy = (c: Ctx) => c.d.base.config?.restart ?? RESTART_DEFAULTS;


const EXIT_REASON: Readonly<Record<ExitCause, SwitchoverReason>> = {
  exit: 'process-exit',
  hung: 'hung',
  'connection-lost': 'connection-lost',
  'probe-failed': 'probe-failed',
};

const command = (c: Ctx, a: AppState, action: CommandAction): string | null => {
  const h = c.d.getHost(a.host);
  if (!h || h.incarnation === null) return null;
  const id = `cmd:${c.seq}:${c.commands++}`;
  c.d.emit({ kind: 'command', id, epoch: c.d.base.epoch, host: a.host, app: a.id, action, lca: h.incarnation, incarnation: action === 'start' ? null : a.incarnation, causeSeq: c.seq });
  return id;
};

// ---- failures, restarts, promotion ---------------------------------------------------------

/** The member `app` of its pair is out (reaped, host lost, LCA restarted). */
const memberOut = (c: Ctx, app: string, reason: SwitchoverReason): void => {
  const p = pairOf(c, app);
  if (!p) return;
  if (p.switching?.stage === 'demoting' && p.switching.from === app) {
    demoteDone(c, p); // stepping down by exiting: out all the same
    return;
  }
  if (p.current === app) {
    c.d.pair(p.id, { current: null, currentSince: null, failure: { app, reason, causeSeq: c.seq } });
    if (!p.autoSwitchover && !p.paused) {
      c.d.emit({ kind: 'notice', notice: 'waiting-operator', pair: p.id, app, detail: `primary ${app} failed (${reason}); autoSwitchover is off` });
    }
  } else if (p.switching?.to === app) {
    c.d.pair(p.id, { switching: null });
    clearPromoteTimers(c, p.id);
  }
};

const clearPromoteTimers = (c: Ctx, pair: string): void => {
  for (const id of c.d.timersOf(pairTimers(pair))) c.d.clearTimer(id);
};

const promoteTimeout = (c: Ctx): number => c.d.base.config?.timing.promoteTimeoutMs ?? PROMOTE_TIMEOUT_DEFAULT;

const otherMember = (p: PairState, app: string): string => (p.primary === app ? p.backup : p.primary);

/** Nothing automatic for a paused pair, nor on a host that drains. */
const pausedPairOf = (c: Ctx, app: string): boolean => pairOf(c, app)?.paused ?? false;

/**
 * A graceful switchover (manual, Service Unavailable, drain): the primary is told to step down
 * first; the backup is promoted only once the demotion is confirmed (rule 7).
 */
const beginGraceful = (c: Ctx, p: PairState, to: string, failure: Failure, requestId: string | null, attempt = 1): void => {
  const from = p.current;
  const a = from ? c.d.getApp(from) : undefined;
  if (!from || !a) return;
  const id = command(c, a, 'demote');
  if (!id) return;
  clearPromoteTimers(c, p.id);
  c.d.timer({ id: `demote:${p.id}:${c.seq}`, at: c.at + promoteTimeout(c), purpose: { kind: 'demote-timeout', pair: p.id, command: id } });
  c.d.pair(p.id, { switching: { stage: 'demoting', from, to, requestId, failure, decidedSeq: c.seq, attempt, command: id, refused: false } });
};

/** The old primary is out (demotion confirmed, or it exited): promote the intended member, else choose again. */
const demoteDone = (c: Ctx, p: PairState): void => {
  const sw = p.switching;
  if (!sw) return;
  clearPromoteTimers(c, p.id);
  c.d.pair(p.id, { current: null, currentSince: null, switching: null, failure: sw.failure });
  const now = c.d.getPair(p.id);
  if (!now) return;
  if (available(c, sw.to)) promote(c, now, sw.to, 1, sw.requestId);
  else reconcilePair(c, p.id);
};

const scheduleRestart = (c: Ctx, app: string, lived: number): void => {
  const a = c.d.getApp(app);
  if (!a || a.gaveUp || pausedPairOf(c, app) || c.d.getHost(a.host)?.draining || c.d.getHost(a.host)?.lca === 'drained') return;
  const policy = restartPolicy(c);
  const attempt = (lived >= policy.maxDelayMs ? 0 : a.attempt) + 1;
  if (policy.maxAttempts > 0 && attempt > policy.maxAttempts) {
    c.d.app(app, { gaveUp: true, attempt });
    c.d.emit({ kind: 'notice', notice: 'restart-gave-up', pair: pairOf(c, app)?.id ?? null, app, detail: `${app} failed ${attempt} times; maxAttempts is ${policy.maxAttempts}` });
    return;
  }
  const delay = Math.min(policy.initialDelayMs * 2 ** (attempt - 1), policy.maxDelayMs);
  c.d.app(app, { attempt });
  c.d.timer({ id: `restart:${app}:${c.seq}`, at: c.at + delay, purpose: { kind: 'restart', app } });
};

const hasRestartPending = (c: Ctx, app: string): boolean => c.d.timersOf(appTimers(app)).length > 0;

const available = (c: Ctx, id: string): boolean => {
  const a = c.d.getApp(id);
  const h = a && c.d.getHost(a.host);
  return !!a && !!h && h.lca === 'up' && !h.draining && h.incarnation !== null && a.status === 'started' && a.incarnation !== null && a.role !== 'primary';
};

/** A configured primary that will not be available soon: the backup may take the pair's first promotion. */
const primaryGone = (c: Ctx, id: string): boolean => {
  const a = c.d.getApp(id);
  if (!a || a.gaveUp || c.d.getHost(a.host)?.lca === 'lost') return true;
  // it ran and is not (re)starting: it failed, or it cannot serve
  return a.startedAt !== null && a.status !== 'starting' && a.status !== 'started';
};

/** Acting as primary as far as the log knows: it must be out before another member is promoted (rule 7). */
const actingPrimary = (c: Ctx, id: string): boolean => {
  const a = c.d.getApp(id);
  return !!a && a.role === 'primary' && a.incarnation !== null && c.d.getHost(a.host)?.lca === 'up';
};

const promote = (c: Ctx, p: PairState, to: string, attempt: number, requestId: string | null = null): void => {
  const a = c.d.getApp(to);
  if (!a) return;
  const id = command(c, a, 'promote');
  if (!id) return;
  clearPromoteTimers(c, p.id);
  c.d.timer({ id: `promote:${p.id}:${c.seq}`, at: c.at + promoteTimeout(c), purpose: { kind: 'promote-timeout', pair: p.id, command: id } });
  c.d.pair(p.id, { switching: { stage: 'promoting', from: null, to, requestId, failure: p.failure, decidedSeq: c.seq, attempt, command: id, refused: false } });
};

/** Gives up a promotion under way; if its target may still carry it out, the pair waits for the answer. */
const abandonPromotion = (c: Ctx, p: PairState): void => {
  const sw = p.switching;
  clearPromoteTimers(c, p.id);
  const a = sw ? c.d.getApp(sw.to) : undefined;
  // a refused promotion was answered: nothing of it can act later
  const unresolved = sw && sw.stage === 'promoting' && !sw.refused && a && a.incarnation !== null ? { app: a.id, incarnation: a.incarnation, command: sw.command } : null;
  c.d.pair(p.id, { switching: null, unresolved });
};

/** Still waiting for the answer to an abandoned promotion? */
const awaitingAnswer = (c: Ctx, p: PairState): boolean => {
  const u = p.unresolved;
  if (!u) return false;
  const a = c.d.getApp(u.app);
  if (a && a.incarnation === u.incarnation && c.d.getHost(a.host)?.lca === 'up') return true;
  c.d.pair(p.id, { unresolved: null }); // its run ended or its host was lost: the command cannot act any more
  return false;
};

/** Gives a pair without a primary one, when the rules allow it. */
const reconcilePair = (c: Ctx, pairId: string): void => {
  decidePair(c, pairId);
  c.d.settled(pairId); // reconciling it again now would do nothing
};

const decidePair = (c: Ctx, pairId: string): void => {
  const p = c.d.getPair(pairId);
  if (!p || p.paused || p.switching !== null) return;
  if (p.current !== null) {
    // Rule 3: a primary that reports Service Unavailable gives way to an available backup.
    const cur = c.d.getApp(p.current);
    const other = otherMember(p, p.current);
    if (cur?.status === 'service-unavailable' && p.autoSwitchover && available(c, other)) {
      beginGraceful(c, p, other, { app: p.current, reason: 'service-unavailable', causeSeq: cur.unavailableSeq ?? c.seq }, null);
    }
    return;
  }
  if (p.failure && !p.autoSwitchover) return;
  if (awaitingAnswer(c, p)) return;
  promoteOne(c, p);
};

// apart from decidePair: its closures would make every call allocate their context, and most
// calls return before they are needed
const promoteOne = (c: Ctx, p: PairState): void => {
  const members = [p.primary, p.backup];
  if (members.some((m) => actingPrimary(c, m))) return; // old primary out first: a demote is under way
  let to: string | undefined;
  if (p.failure) {
    to = [...members.filter((m) => m !== p.failure?.app), p.failure.app].find((m) => available(c, m));
  } else if (available(c, p.primary)) {
    to = p.primary;
  } else if (available(c, p.backup) && primaryGone(c, p.primary)) {
    to = p.backup; // the configured primary is not coming: its host is lost, or it ran and failed
  }
  if (to) promote(c, p, to, 1);
};

/** Reconciles every pair, in the order of their ids. */
const reconcileAll = (c: Ctx): void => {
  for (const id of [...c.d.pairs.keys()].sort()) reconcilePair(c, id);
};

/**
 * The same as `reconcileAll`, without visiting settled pairs. Reconciling a pair reads only the
 * pair, its members and their hosts, changes only that pair, and is idempotent: a pair none of
 * whose inputs changed since it was last reconciled would do nothing. The Draft notes every change
 * to those inputs (`State.index.unsettled`), so the unsettled pairs, in id order, make the same
 * decisions in the same order as all pairs would.
 */
const reconcileUnsettled = (c: Ctx): void => {
  for (const id of c.d.unsettledPairs()) reconcilePair(c, id);
};

const reconcileOf = (c: Ctx, app: string): void => {
  const p = pairOf(c, app);
  if (p) reconcilePair(c, p.id);
};

/** A member that acts as primary while another is (or is becoming) the pair's primary is demoted. */
const demoteExtraPrimaries = (c: Ctx, apps: AppState[]): void => {
  for (const a of apps) {
    const p = pairOf(c, a.id);
    if (!p || !extraPrimary(c, a)) continue;
    if (command(c, a, 'demote')) {
      c.d.emit({ kind: 'notice', notice: 'demoting-extra-primary', pair: p.id, app: a.id, detail: `${a.id} acts as primary but the pair's primary is ${p.current ?? p.switching?.to ?? 'being chosen'}` });
    }
  }
};

const extraPrimary = (c: Ctx, a: AppState): boolean => {
  const p = pairOf(c, a.id);
  return !!p && actingPrimary(c, a.id) && p.current !== a.id;
};

/** Endpoints by application, made once per configuration (a configuration is never changed). */
const endpoints = new WeakMap<ConfigPolicy, ReadonlyMap<string, string | null>>();

const endpointOf = (config: ConfigPolicy | null, app: string): string | null => {
  if (!config) return null;
  let byApp = endpoints.get(config);
  if (!byApp) {
    const m = new Map<string, string | null>();
    for (const a of config.applications) if (!m.has(a.id)) m.set(a.id, a.endpoint ?? null);
    endpoints.set(config, m);
    byApp = m;
  }
  return byApp.get(app) ?? null;
};

// ---- inputs -------------------------------------------------------------------------------

const onClaim = (c: Ctx, ev: ScsClaimed): boolean => {
  c.d.set({ epoch: c.seq, active: ev.scs, deciderVersion: ev.deciderVersion });
  // The new leader takes over whatever was under way: timers, promotions, starts, announcements.
  // (ids are tokens: `localeCompare` tells any two apart, so these orders do not depend on the maps')
  for (const t of [...c.d.timers.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    if (t.purpose.kind === 'restart') c.d.emit({ kind: 'timer', id: t.id, at: t.at });
  }
  for (const p of [...c.d.pairs.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    if (p.switching?.stage === 'demoting') {
      beginGraceful(c, p, p.switching.to, p.switching.failure ?? { app: p.switching.from ?? '', reason: 'manual', causeSeq: p.switching.decidedSeq }, p.switching.requestId, p.switching.attempt + 1);
    } else if (p.switching) {
      if (available(c, p.switching.to)) promote(c, { ...p, failure: p.switching.failure }, p.switching.to, p.switching.attempt + 1, p.switching.requestId);
      else abandonPromotion(c, p);
    } else if (p.current && p.currentSince) {
      const since = p.currentSince;
      const last = p.lastSwitchover;
      if (last && last.to === p.current && last.causeSeq === since.causeSeq) {
        c.d.emit({ kind: 'announce', reconcile: true, announcement: announcement(c, p.id, last.from, last.to, last.reason, last.causeSeq, last.epoch, last.at) });
      }
      c.d.emit({ kind: 'primary', entry: primaryEntry(c, p.id, p.current, since.causeSeq, since.epoch, since.at) });
    }
  }
  for (const a of [...c.d.apps.values()].filter((x) => x.pendingStart).sort((x, y) => x.id.localeCompare(y.id))) {
    const id = command(c, a, 'start');
    c.d.app(a.id, { pendingStart: id });
  }
  demoteExtraPrimaries(c, [...c.d.apps.values()].filter((a) => extraPrimary(c, a)).sort((x, y) => c.d.appOrder()(x.id, y.id)));
  reconcileAll(c);
  return true;
};

const onConfig = (c: Ctx, ev: ConfigApplied): boolean => {
  const cfg = ev.config;
  const hosts = PMap.from(cfg.hosts.map((h) => [h.id, c.d.getHost(h.id) ?? newHost(h.id)] as const));
  const pairList = pairsOf(cfg);
  const pairs = PFixedMap.from(
    pairList.map((pc) => {
      const old = c.d.getPair(pc.id);
      const same = old && old.primary === pc.primary && old.backup === pc.backup;
      // field by field: a spread of this many properties made each entry a dictionary of its own (kilobytes)
      const p: PairState = same
        ? { id: old.id, primary: old.primary, backup: old.backup, type: pc.type, autoSwitchover: pc.autoSwitchover, current: old.current, currentSince: old.currentSince, switching: old.switching, failure: old.failure, lastSwitchover: old.lastSwitchover, lastRefusal: old.lastRefusal, paused: old.paused, unresolved: old.unresolved }
        : { id: pc.id, primary: pc.primary, backup: pc.backup, type: pc.type, autoSwitchover: pc.autoSwitchover, current: null, currentSince: null, switching: null, failure: null, lastSwitchover: null, lastRefusal: null, paused: false, unresolved: null };
      return [pc.id, p] as const;
    }),
  );
  const pairOfApp = new Map<string, string>();
  for (const id of new Set(pairList.map((pc) => pc.id))) {
    const p = pairs.get(id);
    if (!p) continue;
    pairOfApp.set(p.primary, p.id);
    pairOfApp.set(p.backup, p.id);
  }
  const apps = PMap.from(
    cfg.applications.map((a) => {
      const old = c.d.getApp(a.id);
      const pair = pairOfApp.get(a.id) ?? null;
      const index = pair === null ? null : (pairs.indexOf(pair) ?? null);
      if (!old || old.host !== a.host) return [a.id, newApp(a.id, a.host, pair, index)] as const;
      return [a.id, old.pair === pair && old.pairIndex === index ? old : withPair(old, pair, index)] as const;
    }),
  );
  for (const t of c.d.timers.values()) {
    const gone = t.purpose.kind === 'restart' ? !apps.has(t.purpose.app) : !pairs.has(t.purpose.pair);
    if (gone) c.d.clearTimer(t.id);
  }
  c.d.replaceAll(hosts, apps, cfg.applications.map((a) => a.id), pairs);
  c.d.set({ config: policyOf(cfg), configSeq: c.seq, pairOfApp });
  reconcileAll(c);
  return true;
};

const onLcaStarted = (c: Ctx, ev: LcaStarted): boolean => {
  const h = namedHost(c, ev.host);
  if (!h || (h.incarnation !== null && c.seq <= h.incarnation)) return false;
  c.d.host(ev.host, { lca: 'up', draining: false, incarnation: c.seq, lastN: 0, resumedN: 0, lostAt: null });
  // A new incarnation ended whatever the old one ran: those members are out.
  for (const a of appsOnHost(c, ev.host)) {
    if (a.incarnation !== null) memberOut(c, a.id, 'process-exit');
    c.d.app(a.id, { status: 'stopped', pid: null, role: 'none', incarnation: null, pendingStart: null });
    for (const id of c.d.timersOf(appTimers(a.id))) c.d.clearTimer(id); // the LCA starts its apps itself
  }
  reconcileUnsettled(c);
  return true;
};

const onAppStarted = (c: Ctx, ev: AppStarted): boolean => {
  const a = appOn(c, ev.app, ev.host);
  if (!a) return false;
  c.d.app(a.id, { status: ev.status, pid: ev.pid, role: ev.role, incarnation: c.seq, startedAt: c.at, pendingStart: null, unavailableSeq: null, fenced: false });
  reconcileOf(c, a.id);
  return true;
};

const onAppExited = (c: Ctx, ev: AppExited): boolean => {
  const a = appOn(c, ev.app, ev.host);
  if (!a || a.incarnation !== ev.incarnation) return false;
  const lived = a.startedAt === null ? 0 : c.at - a.startedAt;
  c.d.app(a.id, { status: 'stopped', pid: null, role: 'none', incarnation: null, unavailableSeq: null, fenced: false });
  memberOut(c, a.id, EXIT_REASON[ev.cause]);
  if (!ev.expected) scheduleRestart(c, a.id, lived);
  reconcileOf(c, a.id);
  return true;
};

const onRoleChanged = (c: Ctx, ev: AppRoleChanged): boolean => {
  const a = appOn(c, ev.app, ev.host);
  if (!a || a.incarnation !== ev.incarnation) return false;
  c.d.app(a.id, { role: ev.role });
  let p = pairOf(c, a.id);
  if (!p) return true;
  if (p.unresolved?.app === a.id) {
    c.d.pair(p.id, { unresolved: null }); // answered: as primary it is now an extra one (demoted below)
    p = c.d.getPair(p.id) ?? p;
  }
  if (ev.role === 'primary') {
    if (p.switching?.to === a.id) completeSwitchover(c, p, a.id);
    else if (p.current !== a.id) demoteExtraPrimaries(c, [{ ...a, role: 'primary' }]);
  } else if (p.switching?.stage === 'demoting' && p.switching.from === a.id) {
    demoteDone(c, p);
    return true;
  } else if (p.current === a.id) {
    c.d.pair(p.id, { current: null, currentSince: null, failure: { app: a.id, reason: 'manual', causeSeq: c.seq } });
  }
  reconcilePair(c, p.id);
  return true;
};

const completeSwitchover = (c: Ctx, p: PairState, to: string): void => {
  const sw = p.switching;
  if (!sw) return;
  const epoch = c.d.base.epoch;
  // The member that failed (or stepped down on its own) promoted again, none other being available:
  // the pair has its primary back, and no switchover happened to announce (`a -> a` confused clients).
  const f = sw.failure && sw.failure.app !== to ? sw.failure : null;
  const causeSeq = sw.failure?.causeSeq ?? sw.decidedSeq;
  clearPromoteTimers(c, p.id);
  c.d.pair(p.id, {
    current: to,
    currentSince: { causeSeq, epoch, at: c.at },
    switching: null,
    failure: null,
    lastRefusal: null,
    ...(f ? { lastSwitchover: { from: f.app, to, reason: f.reason, causeSeq, epoch, at: c.at } } : {}),
  });
  // announce first: it is what subscribers wait for; the KV entry follows in the same breath
  if (f) c.d.emit({ kind: 'announce', reconcile: false, announcement: announcement(c, p.id, f.app, to, f.reason, causeSeq, epoch, c.at) });
  c.d.emit({ kind: 'primary', entry: primaryEntry(c, p.id, to, causeSeq, epoch, c.at) });
};

const announcement = (c: Ctx, pair: string, from: string, to: string, reason: SwitchoverReason, causeSeq: number, epoch: number, at: number) => ({
  pair,
  from: { app: from, host: c.d.getApp(from)?.host ?? '' },
  to: { app: to, host: c.d.getApp(to)?.host ?? '', endpoint: endpointOf(c.d.base.config, to) },
  reason,
  epoch,
  causeSeq,
  at: isoTime(at),
});

const primaryEntry = (c: Ctx, pair: string, app: string, causeSeq: number, epoch: number, at: number) => ({
  pair,
  app,
  host: c.d.getApp(app)?.host ?? '',
  endpoint: endpointOf(c.d.base.config, app),
  epoch,
  causeSeq,
  at: isoTime(at),
});

const onRefused = (c: Ctx, ev: CommandRefused): boolean => {
  const a = c.d.getApp(ev.app);
  const p = pairOf(c, ev.app);
  const sw = p?.switching;
  if (p) {
    c.d.pair(p.id, {
      lastRefusal: `${ev.app}: ${ev.reason} (${ev.command})`,
      ...(p.unresolved?.command === ev.command ? { unresolved: null } : {}),
      ...(sw && sw.command === ev.command ? { switching: { ...sw, refused: true } } : {}),
    });
  }
  if (p?.unresolved?.command === ev.command) reconcilePair(c, p.id);
  if (a && a.pendingStart === ev.command) {
    c.d.app(a.id, { pendingStart: null, status: a.incarnation === null ? 'stopped' : a.status });
    if (a.incarnation === null) scheduleRestart(c, a.id, 0);
  }
  return true;
};

const onHostLost = (c: Ctx, ev: HostLost): boolean => {
  const h = c.d.getHost(ev.host);
  if (!h || h.lca === 'lost') return false;
  if (ev.lca !== null && h.incarnation !== null && ev.lca < h.incarnation) return false; // evidence older than the log
  // The host said it is back (LcaResumed) after the heartbeat the detector judged by: not lost.
  if (ev.lca !== null && ev.lca === h.incarnation && ev.n !== null && ev.n < h.resumedN) return false;
  c.d.host(ev.host, { lca: 'lost', lostAt: c.at });
  for (const a of appsOnHost(c, ev.host)) memberOut(c, a.id, 'host-lost');
  reconcileUnsettled(c);
  return true;
};

const onHostReturned = (c: Ctx, ev: HostReturned): boolean => {
  const h = c.d.getHost(ev.host);
  if (!h || h.lca === 'up') return false;
  c.d.host(ev.host, { lca: 'up', lostAt: null });
  const hb = ev.heartbeat;
  // The snapshot is the truth only if it is as new as the log: same incarnation, no later event, and
  // a number its LCA can have reached (not far beyond the last seen, as for events).
  if (hb.lca !== null && hb.lca === h.incarnation && hb.n >= h.lastN && hb.n <= h.lastN + MAX_EVENT_NUMBER_JUMP) {
    for (const s of hb.apps) {
      const a = c.d.getApp(s.app);
      if (!a || a.host !== ev.host) continue;
      const running = s.status !== 'stopped' && s.incarnation !== null;
      c.d.app(a.id, running ? { status: s.status, pid: s.pid, role: s.role, incarnation: s.incarnation } : { status: 'stopped', pid: null, role: 'none', incarnation: null });
    }
  }
  const apps = appsOnHost(c, ev.host);
  demoteExtraPrimaries(c, apps);
  for (const a of apps) {
    const now = c.d.getApp(a.id);
    if (now && now.status === 'stopped' && !now.gaveUp && !now.pendingStart && !hasRestartPending(c, a.id)) scheduleRestart(c, a.id, 0);
  }
  reconcileUnsettled(c);
  return true;
};

const onResumed = (c: Ctx, ev: LcaResumed): boolean => {
  c.d.host(ev.host, { resumedN: ev.n });
  return true;
};

const onTimer = (c: Ctx, ev: TimerFired): boolean => {
  const t = c.d.getTimer(ev.timer);
  if (!t) return false;
  c.d.clearTimer(t.id);
  if (t.purpose.kind === 'restart') {
    const a = c.d.getApp(t.purpose.app);
    const h = a && c.d.getHost(a.host);
    if (!a || a.status !== 'stopped' || a.gaveUp || h?.lca !== 'up' || h.draining || pausedPairOf(c, a.id)) return true;
    const id = command(c, a, 'start');
    if (id) c.d.app(a.id, { status: 'starting', restarts: a.restarts + 1, pendingStart: id });
    return true;
  }
  const p = c.d.getPair(t.purpose.pair);
  if (!p?.switching || p.switching.command !== t.purpose.command) return true;
  if (t.purpose.kind === 'demote-timeout') {
    const sw = p.switching;
    c.d.emit({ kind: 'notice', notice: 'demotion-timed-out', pair: p.id, app: sw.from, detail: `${sw.from ?? '?'} did not confirm its demotion (attempt ${sw.attempt}); asking again` });
    beginGraceful(c, p, sw.to, sw.failure ?? { app: sw.from ?? '', reason: 'manual', causeSeq: sw.decidedSeq }, sw.requestId, sw.attempt + 1);
    return true;
  }
  c.d.emit({ kind: 'notice', notice: 'promotion-timed-out', pair: p.id, app: p.switching.to, detail: `${p.switching.to} did not confirm promotion (attempt ${p.switching.attempt})` });
  if (available(c, p.switching.to)) promote(c, { ...p, failure: p.switching.failure }, p.switching.to, p.switching.attempt + 1, p.switching.requestId);
  else {
    abandonPromotion(c, p);
    reconcilePair(c, p.id);
  }
  return true;
};

// ---- issue 3: status reports, self-fencing, drain, operator requests ------------------------

const onStatusChanged = (c: Ctx, ev: AppStatusChanged): boolean => {
  const a = appOn(c, ev.app, ev.host);
  if (!a || a.incarnation !== ev.incarnation) return false;
  const unavailable = ev.status === 'service-unavailable';
  c.d.appStatus(a.id, ev.status, unavailable ? (a.unavailableSeq ?? c.seq) : null);
  const p = pairOf(c, a.id);
  if (!p) return true;
  if (unavailable && p.current === a.id && !p.autoSwitchover && !p.paused) {
    c.d.emit({ kind: 'notice', notice: 'waiting-operator', pair: p.id, app: a.id, detail: `primary ${a.id} reports Service Unavailable; autoSwitchover is off` });
  }
  reconcilePair(c, p.id);
  return true;
};

const onSelfFenced = (c: Ctx, ev: AppSelfFenced): boolean => {
  const a = appOn(c, ev.app, ev.host);
  if (!a || a.incarnation !== ev.incarnation) return false;
  c.d.app(a.id, { fenced: ev.fenced });
  return true;
};

const onDraining = (c: Ctx, ev: LcaDraining): boolean => {
  c.d.host(ev.host, { draining: true });
  // only a pair whose primary is on this host can be concerned: its pairs, by id (as over all pairs)
  const concerned = new Set<string>();
  for (const app of c.d.appIdsOn(ev.host)) {
    const id = c.d.pairIdOf(app);
    if (id !== undefined) concerned.add(id);
  }
  const pairs = [...concerned].flatMap((id) => c.d.getPair(id) ?? []);
  for (const p of pairs.sort((x, y) => x.id.localeCompare(y.id))) {
    if (p.paused || p.switching || !p.current || c.d.getApp(p.current)?.host !== ev.host) continue;
    const other = otherMember(p, p.current);
    if (available(c, other)) beginGraceful(c, p, other, { app: p.current, reason: 'manual', causeSeq: c.seq }, null);
  }
  return true;
};

const onLcaStopped = (c: Ctx, ev: LcaStopped): boolean => {
  c.d.host(ev.host, { lca: ev.drained ? 'drained' : 'lost', draining: false, lostAt: c.at });
  for (const a of appsOnHost(c, ev.host)) {
    if (a.incarnation !== null) memberOut(c, a.id, 'process-exit');
    c.d.app(a.id, { status: 'stopped', pid: null, role: 'none', incarnation: null, pendingStart: null, unavailableSeq: null });
  }
  for (const app of c.d.appIdsOn(ev.host)) {
    for (const id of c.d.timersOf(appTimers(app))) c.d.clearTimer(id);
  }
  reconcileUnsettled(c);
  return true;
};

const whyUnavailable = (c: Ctx, id: string): string => {
  const a = c.d.getApp(id);
  const h = a && c.d.getHost(a.host);
  if (!a || !h) return 'unknown';
  if (h.lca !== 'up') return `host ${h.id} is ${h.lca}`;
  if (h.draining) return `host ${h.id} is draining`;
  return a.status === 'started' ? `role ${a.role}` : `status ${a.status}`;
};

const onSwitchoverRequested = (c: Ctx, ev: SwitchoverRequested): boolean => {
  const p = c.d.getPair(ev.pair);
  const refuse = (detail: string): boolean => {
    c.d.emit({ kind: 'notice', notice: 'switchover-refused', pair: ev.pair, app: null, detail, requestId: ev.requestId });
    return true;
  };
  if (!p) return refuse(`no pair ${ev.pair}`);
  if (p.paused) return refuse(`pair ${p.id} is paused`);
  if (p.switching) return refuse(`pair ${p.id} is mid-switchover (to ${p.switching.to})`);
  if (!p.current) return refuse(`pair ${p.id} has no primary to switch from`);
  const to = otherMember(p, p.current);
  if (!available(c, to)) return refuse(`backup ${to} is not available (${whyUnavailable(c, to)})`);
  c.d.emit({ kind: 'notice', notice: 'switchover-accepted', pair: p.id, app: to, detail: `switching ${p.id} from ${p.current} to ${to}`, requestId: ev.requestId });
  beginGraceful(c, p, to, { app: p.current, reason: 'manual', causeSeq: c.seq }, ev.requestId);
  return true;
};

const onPause = (c: Ctx, ev: PauseRequested | ResumeRequested): boolean => {
  const p = c.d.getPair(ev.pair);
  const pause = ev.type === 'PauseRequested';
  if (!p) {
    c.d.emit({ kind: 'notice', notice: pause ? 'paused' : 'resumed', pair: ev.pair, app: null, detail: `no pair ${ev.pair}: nothing done`, requestId: ev.requestId });
    return true;
  }
  c.d.pair(p.id, { paused: pause });
  c.d.emit({ kind: 'notice', notice: pause ? 'paused' : 'resumed', pair: p.id, app: null, detail: pause ? `${p.id} paused: failures are shown, nothing is done automatically` : `${p.id} resumed`, requestId: ev.requestId });
  if (!pause) {
    for (const m of [p.primary, p.backup]) {
      const a = c.d.getApp(m);
      if (a && a.status === 'stopped' && !a.pendingStart && !hasRestartPending(c, m)) scheduleRestart(c, m, 0);
    }
    reconcilePair(c, p.id);
  }
  return true;
};

// ---- checks (tests) -----------------------------------------------------------------------

/**
 * What is wrong with a state's derived parts, for tests: a pair outside `index.unsettled` that
 * reconciling would change (the premise of `reconcileUnsettled`), or an index that does not match
 * the collections. Empty when all is well.
 */
export const checkState = (s: State): string[] => {
  const problems: string[] = [];
  for (const id of s.pairs.keys()) {
    if (s.index.unsettled.has(id)) continue;
    const d = new Draft(s);
    decidePair({ d, seq: s.lastSeq + 1, at: 0, commands: 0 }, id);
    const after = d.done(s.lastSeq, s.counts);
    if (d.effects.length > 0 || after.pairs !== s.pairs || after.timers !== s.timers) problems.push(`pair ${id} is taken for settled, but reconciling it decides something`);
  }
  const order = keyOrder(s);
  const byHost = new Map<string, string[]>();
  for (const a of s.apps.values()) {
    if (!s.index.appOrder.has(a.id)) problems.push(`app ${a.id} has no place in appOrder`);
    if (a.pair !== (s.pairOfApp.get(a.id) ?? null)) problems.push(`app ${a.id} says it belongs to pair ${a.pair ?? 'none'}, the configuration to ${s.pairOfApp.get(a.id) ?? 'none'}`);
    if (a.pairIndex !== (a.pair === null ? null : (s.pairs.indexOf(a.pair) ?? null))) problems.push(`app ${a.id} gives its pair the number ${a.pairIndex ?? 'none'}`);
    byHost.set(a.host, [...(byHost.get(a.host) ?? []), a.id]);
  }
  for (const [host, ids] of s.index.appsOfHost) if (!byHost.has(host) && ids.length > 0) problems.push(`appsOfHost lists ${ids.join(',')} on ${host}`);
  for (const [host, ids] of byHost) {
    const listed = s.index.appsOfHost.get(host) ?? [];
    if (listed.join() !== ids.sort(order).join()) problems.push(`appsOfHost of ${host} is ${listed.join(',')}, not ${ids.join(',')}`);
  }
  const byOwner = new Map<string, string[]>();
  for (const t of s.timers.values()) byOwner.set(timerOwner(t.purpose), [...(byOwner.get(timerOwner(t.purpose)) ?? []), t.id]);
  const owners = new Set([...byOwner.keys(), ...s.index.timersOf.keys()]);
  for (const o of owners) {
    const listed = [...(s.index.timersOf.get(o) ?? [])].sort().join();
    const actual = (byOwner.get(o) ?? []).sort().join();
    if (listed !== actual) problems.push(`timersOf ${o} is [${listed}], not [${actual}]`);
  }
  return problems;
};
