import type { AppStatus, ConfigPolicy, Role, SwitchoverReason } from '@ha/events';
import { PFixedMap, PMap } from './pmap.js';

/**
 * The collections of the state are persistent maps keyed by id (`PMap`): read them with `get(id)`,
 * `has(id)`, `size`, `values()`, `keys()`. An update returns a new map and leaves the old one as it
 * was; the newest version holds the entries and older ones hold the diffs to it, so a decision
 * costs O(1) whatever the size of the cluster, and reading an old state again costs its distance
 * from the newest (decisions 0006, 0007). They iterate by id (code-unit order).
 */
export { PFixedMap, PMap };
export const emptyMap = <V>(): PMap<V> => PMap.empty<V>();

/** Bumped whenever decisions change for the same log; recorded in every claim. 2: host events no configured LCA can have sent are ignored (decision 0015). */
export const DECIDER_VERSION = 2;

export type HostState = Readonly<{
  id: string;
  /** `unknown` until the host is first seen or declared lost; `drained` after its LCA drained and stopped. */
  lca: 'up' | 'lost' | 'unknown' | 'drained';
  /** Its LCA asked for a drain: nothing is promoted onto it or restarted there. */
  draining: boolean;
  /** LCA incarnation (`HA_EVENTS` sequence of its `LcaStarted`). */
  incarnation: number | null;
  /** Last event number seen from that incarnation: what is at or below it is a duplicate. */
  lastN: number;
  /** Event number of the incarnation's last `LcaResumed` (0 if none). */
  resumedN: number;
  lostAt: number | null;
}>;

/** What the log says about an application. While its host is lost, the view shows it `unknown`. */
export type AppState = Readonly<{
  id: string;
  host: string;
  /** The pair it belongs to in the configuration (`pairOfApp`), kept here so one look-up finds both. */
  pair: string | null;
  /** That pair's number in `pairs` (`pairs.at(i)`): reached without a look-up by id. */
  pairIndex: number | null;
  status: AppStatus;
  role: Role;
  pid: number | null;
  incarnation: number | null;
  startedAt: number | null;
  /** Restarts ordered by the SCS. */
  restarts: number;
  /** Consecutive failed runs: drives the back-off. */
  attempt: number;
  gaveUp: boolean;
  /** The start command sent and not yet answered by an `AppStarted`. */
  pendingStart: string | null;
  /** Sequence of its Service Unavailable report while it lasts (the cause of a switchover away from it). */
  unavailableSeq: number | null;
  /** Its own lease lapsed and it stopped acting as primary (rule 9), as it reported. */
  fenced: boolean;
}>;

export type Failure = Readonly<{ app: string; reason: SwitchoverReason; causeSeq: number }>;

export type Switching = Readonly<{
  /** `demoting`: the old primary is told to step down first (graceful); `promoting`: `to` is told to take over. */
  stage: 'demoting' | 'promoting';
  /** While demoting: the primary stepping down. */
  from: string | null;
  to: string;
  /** The operator request this carries out, if any. */
  requestId: string | null;
  /** The failure being repaired; null for a pair's first promotion. */
  failure: Failure | null;
  /** Input that decided this promotion. */
  decidedSeq: number;
  attempt: number;
  command: string;
  /** Its LCA refused `command`: answered, so it cannot be carried out later (the timeout still paces the retry). */
  refused: boolean;
}>;

export type LastSwitchover = Readonly<{
  from: string;
  to: string;
  reason: SwitchoverReason;
  causeSeq: number;
  epoch: number;
  at: number;
}>;

export type PairState = Readonly<{
  id: string;
  primary: string;
  backup: string;
  type: 'warm' | 'hot';
  autoSwitchover: boolean;
  /** The confirmed acting primary. */
  current: string | null;
  /** Since when `current` holds, and under which cause (for the KV entry). */
  currentSince: Readonly<{ causeSeq: number; epoch: number; at: number }> | null;
  switching: Switching | null;
  /** An unrepaired failure of the pair's primary. */
  failure: Failure | null;
  lastSwitchover: LastSwitchover | null;
  lastRefusal: string | null;
  /** Paused by an operator: failures are shown, nothing is done automatically. */
  paused: boolean;
  /**
   * A promotion given up on (its target stopped being available) that the target's LCA has not
   * answered yet: it may still carry it out, so no other member is promoted until it is answered,
   * the target's run ends, or its host is lost (rule 7).
   */
  unresolved: Readonly<{ app: string; incarnation: number; command: string }> | null;
}>;

export type TimerPurpose =
  | Readonly<{ kind: 'restart'; app: string }>
  | Readonly<{ kind: 'promote-timeout'; pair: string; command: string }>
  | Readonly<{ kind: 'demote-timeout'; pair: string; command: string }>;

export type PendingTimer = Readonly<{ id: string; at: number; purpose: TimerPurpose }>;

export type State = Readonly<{
  /** Sequence of the latest claim: the epoch. 0 before any claim. */
  epoch: number;
  active: string | null;
  deciderVersion: number;
  /** What decisions and status need of the configuration in force (not the whole of it). */
  config: ConfigPolicy | null;
  configSeq: number;
  hosts: PMap<HostState>;
  apps: PMap<AppState>;
  /** Its keys are the configuration's pairs, numbered in its order (`AppState.pairIndex`). */
  pairs: PFixedMap<PairState>;
  timers: PMap<PendingTimer>;
  /**
   * Index from the configuration: the pair each application belongs to. Made anew with each
   * configuration and never changed after, so a plain (read-only) Map: one probe per look-up.
   */
  pairOfApp: ReadonlyMap<string, string>;
  /** Indexes kept by the decider for direct look-ups (derived from the fields above). */
  index: StateIndex;
  /** Inputs seen, and ignored as stale or duplicate (for status and audits). */
  counts: Readonly<{ inputs: number; ignored: number }>;
  lastSeq: number;
}>;

/**
 * Derived from the rest of the state, so that no input scans a whole collection.
 */
export type StateIndex = Readonly<{
  /** The applications of each host, in `appOrder`. */
  appsOfHost: PMap<readonly string[]>;
  /**
   * The order in which applications were recorded (the configuration's, then first seen): with
   * `keyOrder` it gives the order that decisions over several applications follow.
   */
  appOrder: PMap<number>;
  nextAppOrder: number;
  /** Pending timers by what they are for: `pair:<id>` (promote, demote), `app:<id>` (restart). */
  timersOf: PMap<readonly string[]>;
  /**
   * Pairs whose inputs (the pair, its members, their hosts) changed since they were last
   * reconciled: any other pair is settled, and reconciling it would do nothing.
   */
  unsettled: PMap<true>;
}>;

/** Keys of `StateIndex.timersOf`: the restart timers of an application, the promote/demote timers of a pair. */
export const appTimers = (app: string): string => `app:${app}`;
export const pairTimers = (pair: string): string => `pair:${pair}`;
export const timerOwner = (p: TimerPurpose): string => (p.kind === 'restart' ? appTimers(p.app) : pairTimers(p.pair));

/** The integer value of an id that a JavaScript object would order as an array index, else null. */
export const arrayIndexOf = (id: string): number | null => {
  if (id.length === 0 || id.length > 10 || id.charCodeAt(0) < 48 || id.charCodeAt(0) > 57) return null;
  const n = Number(id);
  return Number.isInteger(n) && n <= 4294967294 && String(n) === id ? n : null;
};

/**
 * The order of applications as keys of a JavaScript object, which decisions followed when the
 * state was made of records: ids that are array indices first, by value, then the others in the
 * order they were recorded. Kept so that the same log gives the same decisions (decision 0006).
 */
export const keyOrder = (s: Pick<State, 'index'>) => {
  const ord = s.index.appOrder;
  return (x: string, y: string): number => {
    const i = arrayIndexOf(x);
    const j = arrayIndexOf(y);
    if (i !== null || j !== null) return i === null ? 1 : j === null ? -1 : i - j;
    return (ord.get(x) ?? Number.MAX_SAFE_INTEGER) - (ord.get(y) ?? Number.MAX_SAFE_INTEGER);
  };
};

export const emptyIndex = (): StateIndex => ({ appsOfHost: emptyMap(), appOrder: emptyMap(), nextAppOrder: 0, timersOf: emptyMap(), unsettled: emptyMap() });

export const initialState = (): State => ({
  epoch: 0,
  active: null,
  deciderVersion: DECIDER_VERSION,
  config: null,
  configSeq: 0,
  hosts: emptyMap(),
  apps: emptyMap(),
  pairs: PFixedMap.empty(),
  timers: emptyMap(),
  pairOfApp: new Map(),
  index: emptyIndex(),
  counts: { inputs: 0, ignored: 0 },
  lastSeq: 0,
});

export const newHost = (id: string): HostState => ({ id, lca: 'unknown', draining: false, incarnation: null, lastN: 0, resumedN: 0, lostAt: null });

export const newApp = (id: string, host: string, pair: string | null, pairIndex: number | null): AppState => ({
  id,
  host,
  pair,
  pairIndex,
  status: 'stopped',
  role: 'none',
  pid: null,
  incarnation: null,
  startedAt: null,
  restarts: 0,
  attempt: 0,
  gaveUp: false,
  pendingStart: null,
  unavailableSeq: null,
  fenced: false,
});

export type PairView = 'ok' | 'switching' | 'degraded' | 'waiting-operator' | 'paused';

export const pairView = (p: PairState, s?: State): PairView => {
  if (p.paused) return 'paused';
  if (p.switching) return 'switching';
  const current = p.current ? s?.apps.get(p.current) : undefined;
  if (p.current && current?.status === 'service-unavailable') return p.autoSwitchover ? 'degraded' : 'waiting-operator';
  if (p.current) return 'ok';
  if (p.failure && !p.autoSwitchover) return 'waiting-operator';
  return 'degraded';
};

export const pairOfApp = (s: State, app: string): PairState | undefined => {
  const id = s.pairOfApp.get(app);
  return id === undefined ? undefined : s.pairs.get(id);
};

export const hostUp = (s: State, host: string): boolean => s.hosts.get(host)?.lca === 'up';
