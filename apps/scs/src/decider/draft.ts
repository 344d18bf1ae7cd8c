import { emptyMap, keyOrder, PMap, type PFixedMap, timerOwner, type AppState, type HostState, type PairState, type PendingTimer, type State, type StateIndex } from './state.js';
import type { Effect } from './effects.js';

type Patch<T> = Partial<{ -readonly [K in keyof T]: T[K] }>;

// Updates are written field by field: a spread of objects of varying shapes (`{ ...a, ...patch }`)
// takes V8's slow path and cost more than the map updates themselves (decision 0006). A patch never
// holds `undefined` (exactOptionalPropertyTypes), so `undefined` means "unchanged".
const or = <T>(patched: T | undefined, old: T): T => (patched !== undefined ? patched : old);

const patchHost = (h: HostState, p: Patch<HostState>): HostState => ({
  id: or(p.id, h.id),
  lca: or(p.lca, h.lca),
  draining: or(p.draining, h.draining),
  incarnation: or(p.incarnation, h.incarnation),
  lastN: or(p.lastN, h.lastN),
  resumedN: or(p.resumedN, h.resumedN),
  lostAt: or(p.lostAt, h.lostAt),
});

const patchApp = (a: AppState, p: Patch<AppState>): AppState => ({
  id: or(p.id, a.id),
  host: or(p.host, a.host),
  pair: or(p.pair, a.pair),
  pairIndex: or(p.pairIndex, a.pairIndex),
  status: or(p.status, a.status),
  role: or(p.role, a.role),
  pid: or(p.pid, a.pid),
  incarnation: or(p.incarnation, a.incarnation),
  startedAt: or(p.startedAt, a.startedAt),
  restarts: or(p.restarts, a.restarts),
  attempt: or(p.attempt, a.attempt),
  gaveUp: or(p.gaveUp, a.gaveUp),
  pendingStart: or(p.pendingStart, a.pendingStart),
  unavailableSeq: or(p.unavailableSeq, a.unavailableSeq),
  fenced: or(p.fenced, a.fenced),
});

/** The entry with the pair it belongs to under a new configuration. */
export const withPair = (a: AppState, pair: string | null, pairIndex: number | null): AppState => patchApp(a, { pair, pairIndex });

const patchPair = (x: PairState, p: Patch<PairState>): PairState => ({
  id: or(p.id, x.id),
  primary: or(p.primary, x.primary),
  backup: or(p.backup, x.backup),
  type: or(p.type, x.type),
  autoSwitchover: or(p.autoSwitchover, x.autoSwitchover),
  current: or(p.current, x.current),
  currentSince: or(p.currentSince, x.currentSince),
  switching: or(p.switching, x.switching),
  failure: or(p.failure, x.failure),
  lastSwitchover: or(p.lastSwitchover, x.lastSwitchover),
  lastRefusal: or(p.lastRefusal, x.lastRefusal),
  paused: or(p.paused, x.paused),
  unresolved: or(p.unresolved, x.unresolved),
});

const withIndex = (ix: StateIndex, p: Partial<StateIndex>): StateIndex => ({
  appsOfHost: or(p.appsOfHost, ix.appsOfHost),
  appOrder: or(p.appOrder, ix.appOrder),
  nextAppOrder: or(p.nextAppOrder, ix.nextAppOrder),
  timersOf: or(p.timersOf, ix.timersOf),
  unsettled: or(p.unsettled, ix.unsettled),
});

/**
 * Copy-on-write view of a State for one input, over persistent maps: an update replaces one entry
 * and shares everything else with the previous state, which is never mutated. It keeps the
 * indexes of `State.index` up to date, and notes which pairs an update may unsettle.
 */
export class Draft {
  #s: State;
  #hosts: PMap<HostState>;
  #apps: PMap<AppState>;
  #pairs: PFixedMap<PairState>;
  #timers: PMap<PendingTimer>;
  #index: StateIndex;
  // Pairs touched by this input: true if their inputs changed since they were last reconciled.
  // Most inputs touch one pair: it is kept in two fields, and a Map is made only for a second.
  #touchedId: string | null = null;
  #touchedChanged = false;
  #touchedMore: Map<string, boolean> | null = null;
  readonly effects: Effect[] = [];
  // The entry last read or written in each collection: an input reads the same few entries again
  // and again, and a look-up in a large map is a chain of cache misses.
  #hostId: string | null = null;
  #host: HostState | undefined;
  #appId: string | null = null;
  #app: AppState | undefined;
  #pairId: string | null = null;
  #pair: PairState | undefined;

  constructor(state: State) {
    this.#s = state;
    this.#hosts = state.hosts;
    this.#apps = state.apps;
    this.#pairs = state.pairs;
    this.#timers = state.timers;
    this.#index = state.index;
  }

  get hosts(): PMap<HostState> {
    return this.#hosts;
  }
  get apps(): PMap<AppState> {
    return this.#apps;
  }
  get pairs(): PFixedMap<PairState> {
    return this.#pairs;
  }
  get timers(): PMap<PendingTimer> {
    return this.#timers;
  }
  get base(): State {
    return this.#s;
  }

  getHost(id: string): HostState | undefined {
    if (id !== this.#hostId) {
      this.#host = this.#hosts.get(id);
      this.#hostId = id;
    }
    return this.#host;
  }
  getApp(id: string): AppState | undefined {
    if (id !== this.#appId) {
      this.#app = this.#apps.get(id);
      this.#appId = id;
    }
    return this.#app;
  }
  getPair(id: string): PairState | undefined {
    if (id !== this.#pairId) {
      this.#pair = this.#pairs.get(id);
      this.#pairId = id;
    }
    return this.#pair;
  }
  /** The pair of an application, by its number when the application is recorded. */
  pairOfApp(app: string): PairState | undefined {
    const a = this.getApp(app);
    if (a === undefined) {
      const id = this.#s.pairOfApp.get(app);
      return id === undefined ? undefined : this.getPair(id);
    }
    if (a.pair === null || a.pairIndex === null) return undefined;
    if (a.pair !== this.#pairId) {
      this.#pair = this.#pairs.at(a.pairIndex);
      this.#pairId = a.pair;
    }
    return this.#pair;
  }
  getTimer(id: string): PendingTimer | undefined {
    return this.#timers.get(id);
  }
  /** The pair an application belongs to (from the configuration). */
  pairIdOf(app: string): string | undefined {
    // the entry carries it: the look-up of the entry is made anyway, and cached
    const a = this.getApp(app);
    if (a !== undefined) return a.pair ?? undefined;
    return this.#s.pairOfApp.get(app);
  }

  /** The applications of a host, in the order decisions follow (`keyOrder`). */
  appIdsOn(host: string): readonly string[] {
    return this.#index.appsOfHost.get(host) ?? [];
  }
  /** Pending timers for `owner` (`timerOwner`). */
  timersOf(owner: string): readonly string[] {
    return this.#index.timersOf.get(owner) ?? [];
  }
  /** Orders application ids as decisions over several applications do. */
  appOrder(): (x: string, y: string) => number {
    return keyOrder({ index: this.#index });
  }

  set(patch: Patch<State>): void {
    this.#s = { ...this.#s, ...patch };
    this.#forget();
  }
  host(id: string, patch: Patch<HostState>): void {
    const h = this.getHost(id);
    if (!h) return;
    const n = patchHost(h, patch);
    this.#hosts = this.#hosts.set(id, n);
    this.#host = n;
    if (n.lca !== h.lca || n.draining !== h.draining || n.incarnation !== h.incarnation) this.#hostChanged(id);
  }
  /** `host(id, { lastN: n })` without the patch: the update every event from an LCA makes. */
  lastN(id: string, n: number): void {
    const h = this.getHost(id);
    if (!h) return;
    const next: HostState = { id: h.id, lca: h.lca, draining: h.draining, incarnation: h.incarnation, lastN: n, resumedN: h.resumedN, lostAt: h.lostAt };
    this.#hosts = this.#hosts.set(id, next);
    this.#host = next;
  }
  putHost(h: HostState): void {
    this.#hosts = this.#hosts.set(h.id, h);
    this.#hostId = h.id;
    this.#host = h;
    this.#hostChanged(h.id);
  }
  app(id: string, patch: Patch<AppState>): void {
    const a = this.getApp(id);
    if (!a) return;
    const n = patchApp(a, patch);
    this.#apps = this.#apps.set(id, n);
    this.#app = n;
    this.#appChanged(id);
  }
  /** `app(id, { status, unavailableSeq })` without the patch: what a status report changes. */
  appStatus(id: string, status: AppState['status'], unavailableSeq: number | null): void {
    const a = this.getApp(id);
    if (!a) return;
    const n: AppState = {
      id: a.id,
      host: a.host,
      pair: a.pair,
      pairIndex: a.pairIndex,
      status,
      role: a.role,
      pid: a.pid,
      incarnation: a.incarnation,
      startedAt: a.startedAt,
      restarts: a.restarts,
      attempt: a.attempt,
      gaveUp: a.gaveUp,
      pendingStart: a.pendingStart,
      unavailableSeq,
      fenced: a.fenced,
    };
    this.#apps = this.#apps.set(id, n);
    this.#app = n;
    this.#appChanged(id);
  }
  /** Records an application not seen before. */
  putApp(a: AppState): void {
    const known = this.getApp(a.id) !== undefined;
    this.#apps = this.#apps.set(a.id, a);
    this.#app = a;
    if (!known) {
      const ix = this.#index;
      const appOrder = ix.appOrder.set(a.id, ix.nextAppOrder);
      const order = keyOrder({ index: withIndex(ix, { appOrder }) });
      const on = [...(ix.appsOfHost.get(a.host) ?? [])];
      let i = on.length;
      while (i > 0 && order(on[i - 1] ?? '', a.id) > 0) i--;
      on.splice(i, 0, a.id);
      this.#index = withIndex(ix, { appOrder, nextAppOrder: ix.nextAppOrder + 1, appsOfHost: ix.appsOfHost.set(a.host, on) });
    }
    this.#appChanged(a.id);
  }
  pair(id: string, patch: Patch<PairState>): void {
    const p = this.getPair(id);
    if (!p) return;
    const n = patchPair(p, patch);
    this.#pairs = this.#pairs.set(id, n);
    this.#pair = n;
    this.#touch(id, true);
  }
  /**
   * A new configuration: the collections are replaced (applications listed in their order), the
   * indexes rebuilt; every pair is to be reconciled by the caller.
   */
  replaceAll(hosts: PMap<HostState>, apps: PMap<AppState>, appOrder: readonly string[], pairs: PFixedMap<PairState>): void {
    this.#hosts = hosts;
    this.#apps = apps;
    this.#pairs = pairs;
    this.#forget();
    const ix = this.#index;
    const byHost = new Map<string, string[]>();
    const first = new Map<string, number>();
    appOrder.forEach((id, i) => {
      const a = apps.get(id);
      if (!a || first.has(id)) return;
      first.set(id, i);
      const on = byHost.get(a.host);
      if (on) on.push(id);
      else byHost.set(a.host, [id]);
    });
    const ord = PMap.from(first);
    const order = keyOrder({ index: withIndex(ix, { appOrder: ord }) });
    const appsOfHost = PMap.from([...byHost].map(([host, ids]) => [host, ids.sort(order)] as const));
    this.#index = withIndex(ix, { appOrder: ord, nextAppOrder: appOrder.length, appsOfHost, unsettled: emptyMap() });
    this.#touchedId = null;
    this.#touchedMore = null;
  }
  timer(t: PendingTimer): void {
    const old = this.#timers.get(t.id);
    if (old) this.#unindexTimer(old);
    this.#timers = this.#timers.set(t.id, t);
    const owner = timerOwner(t.purpose);
    const ix = this.#index;
    this.#index = withIndex(ix, { timersOf: ix.timersOf.set(owner, [...(ix.timersOf.get(owner) ?? []), t.id]) });
    this.effects.push({ kind: 'timer', id: t.id, at: t.at });
  }
  clearTimer(id: string): void {
    const t = this.#timers.get(id);
    if (!t) return;
    this.#timers = this.#timers.delete(id);
    this.#unindexTimer(t);
  }
  emit(e: Effect): void {
    this.effects.push(e);
  }

  /** Pairs whose inputs changed since they were last reconciled, sorted by id. */
  unsettledPairs(): string[] {
    const ids = new Set<string>();
    for (const id of this.#index.unsettled.keys()) if (this.#touchedAs(id) !== false) ids.add(id);
    if (this.#touchedId !== null && this.#touchedChanged) ids.add(this.#touchedId);
    if (this.#touchedMore !== null) for (const [id, changed] of this.#touchedMore) if (changed) ids.add(id);
    return [...ids].sort();
  }
  /** The pair was just reconciled: until one of its inputs changes, reconciling it does nothing. */
  settled(pair: string): void {
    this.#touch(pair, false);
  }

  /** The next state, after an input numbered `lastSeq`. */
  done(lastSeq: number, counts: State['counts']): State {
    const s = this.#s;
    let index = this.#index;
    let unsettled = index.unsettled;
    if (this.#touchedId !== null) unsettled = this.#touchedChanged ? unsettled.set(this.#touchedId, true) : unsettled.delete(this.#touchedId);
    // (no iterator: most inputs touch one pair, and a configuration touches them all)
    this.#touchedMore?.forEach((changed, id) => {
      unsettled = changed ? unsettled.set(id, true) : unsettled.delete(id);
    });
    if (unsettled !== index.unsettled) index = withIndex(index, { unsettled });
    return {
      epoch: s.epoch,
      active: s.active,
      deciderVersion: s.deciderVersion,
      config: s.config,
      configSeq: s.configSeq,
      hosts: this.#hosts,
      apps: this.#apps,
      pairs: this.#pairs,
      timers: this.#timers,
      pairOfApp: s.pairOfApp,
      index,
      counts,
      lastSeq,
    };
  }

  #touch(pair: string, changed: boolean): void {
    if (this.#touchedId === null || this.#touchedId === pair) {
      this.#touchedId = pair;
      this.#touchedChanged = changed;
    } else {
      (this.#touchedMore ??= new Map()).set(pair, changed);
    }
  }
  #touchedAs(pair: string): boolean | undefined {
    return pair === this.#touchedId ? this.#touchedChanged : this.#touchedMore?.get(pair);
  }
  #forget(): void {
    this.#hostId = this.#appId = this.#pairId = null;
    this.#host = this.#app = this.#pair = undefined;
  }
  #unindexTimer(t: PendingTimer): void {
    const owner = timerOwner(t.purpose);
    const ix = this.#index;
    const ids = (ix.timersOf.get(owner) ?? []).filter((x) => x !== t.id);
    this.#index = withIndex(ix, { timersOf: ids.length > 0 ? ix.timersOf.set(owner, ids) : ix.timersOf.delete(owner) });
  }
  #appChanged(id: string): void {
    const pair = this.pairIdOf(id);
    if (pair !== undefined) this.#touch(pair, true);
  }
  #hostChanged(id: string): void {
    for (const app of this.appIdsOn(id)) this.#appChanged(app);
  }
}
