import type { AppState, HostState, PairState, PendingTimer, State } from './state.js';
import type { Effect } from './effects.js';

type Patch<T> = Partial<{ -readonly [K in keyof T]: T[K] }>;

/**
 * Copy-on-write view of a State for one input: untouched hosts, apps and pairs stay shared with
 * the previous state; nothing of the previous state is ever mutated.
 */
export class Draft {
  #s: State;
  #hosts: Record<string, HostState> | null = null;
  #apps: Record<string, AppState> | null = null;
  #pairs: Record<string, PairState> | null = null;
  #timers: Record<string, PendingTimer> | null = null;
  readonly effects: Effect[] = [];

  constructor(state: State) {
    this.#s = state;
  }

  get hosts(): Readonly<Record<string, HostState>> {
    return this.#hosts ?? this.#s.hosts;
  }
  get apps(): Readonly<Record<string, AppState>> {
    return this.#apps ?? this.#s.apps;
  }
  get pairs(): Readonly<Record<string, PairState>> {
    return this.#pairs ?? this.#s.pairs;
  }
  get timers(): Readonly<Record<string, PendingTimer>> {
    return this.#timers ?? this.#s.timers;
  }
  get base(): State {
    return this.#s;
  }

  set(patch: Patch<State>): void {
    this.#s = { ...this.#s, ...patch };
  }
  host(id: string, patch: Patch<HostState>): void {
    const h = this.hosts[id];
    if (!h) return;
    this.#hosts ??= { ...this.#s.hosts };
    this.#hosts[id] = { ...h, ...patch };
  }
  putHost(h: HostState): void {
    this.#hosts ??= { ...this.#s.hosts };
    this.#hosts[h.id] = h;
  }
  app(id: string, patch: Patch<AppState>): void {
    const a = this.apps[id];
    if (!a) return;
    this.#apps ??= { ...this.#s.apps };
    this.#apps[id] = { ...a, ...patch };
  }
  putApp(a: AppState): void {
    this.#apps ??= { ...this.#s.apps };
    this.#apps[a.id] = a;
  }
  pair(id: string, patch: Patch<PairState>): void {
    const p = this.pairs[id];
    if (!p) return;
    this.#pairs ??= { ...this.#s.pairs };
    this.#pairs[id] = { ...p, ...patch };
  }
  replaceAll(hosts: Record<string, HostState>, apps: Record<string, AppState>, pairs: Record<string, PairState>): void {
    this.#hosts = hosts;
    this.#apps = apps;
    this.#pairs = pairs;
  }
  timer(t: PendingTimer): void {
    this.#timers ??= { ...this.#s.timers };
    this.#timers[t.id] = t;
    this.effects.push({ kind: 'timer', id: t.id, at: t.at });
  }
  clearTimer(id: string): void {
    if (!this.timers[id]) return;
    this.#timers ??= { ...this.#s.timers };
    delete this.#timers[id];
  }
  emit(e: Effect): void {
    this.effects.push(e);
  }

  done(): State {
    return {
      ...this.#s,
      hosts: this.#hosts ?? this.#s.hosts,
      apps: this.#apps ?? this.#s.apps,
      pairs: this.#pairs ?? this.#s.pairs,
      timers: this.#timers ?? this.#s.timers,
    };
  }
}
