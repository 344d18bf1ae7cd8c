// A persistent map from string keys, for the decider's state (decisions 0006 and 0007). Every
// version stays readable and unchanged for whoever holds it, but only one version of a lineage,
// the last one read or written, holds the entries, in a mutable `Map`; every other version is a
// diff: "the version `next`, with `key` set to `value`" (or absent). Reading or updating another
// version first re-roots the lineage there, replaying the diffs in between and inverting them, so
// the newest version (the one a decider works on) costs one `Map` probe per look-up and one small
// object per update, and an old version costs its distance once, when it is read again (Baker's
// trick; Conchon and Filliâtre, "A persistent union-find data structure", 2007).
// Pure: nothing is shared between lineages, and what a version answers never depends on which
// versions were read before it. Iteration is by key, in code-unit order, whatever the history.

/**
 * Calls `f` for each entry, in order. Arrays and Maps (a configuration's 100,000 entries) are read
 * without the iterator protocol: before the caller's loop is optimized, every step of it, and every
 * `[k, v]` destructured, would make objects.
 */
const eachEntry = <V>(entries: Iterable<readonly [string, V]>, f: (k: string, v: V) => void): void => {
  if (Array.isArray(entries)) {
    const a = entries as readonly (readonly [string, V])[];
    for (let i = 0; i < a.length; i++) {
      const e = a[i] as readonly [string, V];
      f(e[0], e[1]);
    }
  } else if (entries instanceof Map) {
    (entries as ReadonlyMap<string, V>).forEach((v, k) => f(k, v));
  } else {
    for (const e of entries) f(e[0], e[1]);
  }
};

/** What a diff holds for a key that the version does not have (a value may be `undefined`). */
const ABSENT: unique symbol = Symbol('absent');

/** The entries of one lineage, as its root version has them. */
type Store = {
  readonly map: Map<string, unknown>;
  /** The keys in order, while the key set is unchanged. */
  sorted: readonly string[] | null;
};

/**
 * An immutable map from strings. Read it with `get`, `has`, `size` and iteration (`keys()`,
 * `values()`, `entries()`, sorted by key); `set` and `delete` return a new map, or the same one
 * when nothing changes.
 */
export class PMap<V> implements Iterable<[string, V]> {
  readonly #store: Store;
  readonly #size: number;
  /** null: this version is the root and the store holds its entries; else the diff to `#next`. */
  #next: PMap<V> | null = null;
  #key = '';
  #value: unknown = undefined;

  private constructor(store: Store, size: number) {
    this.#store = store;
    this.#size = size;
  }

  /** A new, empty map (a lineage of its own). */
  static empty<V>(): PMap<V> {
    return new PMap<V>({ map: new Map(), sorted: null }, 0);
  }
  /** A map of these entries; of two equal keys the later one wins. */
  static from<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    const map = new Map<string, unknown>();
    eachEntry(entries, (k, v) => map.set(k, v));
    return new PMap<V>({ map, sorted: null }, map.size);
  }

  get size(): number {
    return this.#size;
  }
  get(key: string): V | undefined {
    if (this.#next !== null) this.#reroot();
    return this.#store.map.get(key) as V | undefined;
  }
  has(key: string): boolean {
    if (this.#next !== null) this.#reroot();
    return this.#store.map.has(key);
  }
  set(key: string, value: V): PMap<V> {
    if (this.#next !== null) this.#reroot();
    const s = this.#store;
    const old = s.map.get(key);
    const had = old !== undefined || s.map.has(key);
    if (had && old === value) return this;
    s.map.set(key, value);
    if (!had) s.sorted = null;
    return this.#handOver(key, had ? old : ABSENT, had ? this.#size : this.#size + 1);
  }
  delete(key: string): PMap<V> {
    if (this.#next !== null) this.#reroot();
    const s = this.#store;
    if (!s.map.has(key)) return this;
    const old = s.map.get(key);
    s.map.delete(key);
    s.sorted = null;
    return this.#handOver(key, old, this.#size - 1);
  }

  *entries(): IterableIterator<[string, V]> {
    // read at once: a re-root of the lineage while the caller iterates cannot change what it gets
    const keys = this.#sortedKeys();
    const m = this.#store.map;
    const out = keys.map((k): [string, V] => [k, m.get(k) as V]);
    yield* out;
  }
  *keys(): IterableIterator<string> {
    yield* this.#sortedKeys();
  }
  *values(): IterableIterator<V> {
    const m = this.#store.map;
    const out = this.#sortedKeys().map((k) => m.get(k) as V);
    yield* out;
  }
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
  /** JSON as an object, keys sorted. */
  toJSON(): Record<string, V> {
    const o: Record<string, V> = {};
    for (const [k, v] of this.entries()) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }

  /** This root version was just changed into a new one: it becomes the diff back from it. */
  #handOver(key: string, old: unknown, size: number): PMap<V> {
    const next = new PMap<V>(this.#store, size);
    this.#next = next;
    this.#key = key;
    this.#value = old;
    return next;
  }

  #sortedKeys(): readonly string[] {
    if (this.#next !== null) this.#reroot();
    const s = this.#store;
    return (s.sorted ??= [...s.map.keys()].sort());
  }

  /** Makes this version the root: the diffs from it to the root are applied and inverted, nearest the root first. */
  #reroot(): void {
    const path: PMap<V>[] = [this];
    for (let v = this.#next; v !== null && v.#next !== null; v = v.#next) path.push(v);
    const s = this.#store;
    const m = s.map;
    for (let i = path.length - 1; i >= 0; i--) {
      const v = path[i] as PMap<V>;
      const root = v.#next as PMap<V>;
      const k = v.#key;
      const old = m.get(k);
      const had = old !== undefined || m.has(k);
      if (v.#value === ABSENT) m.delete(k);
      else m.set(k, v.#value);
      if (had !== (v.#value !== ABSENT)) s.sorted = null;
      root.#next = v;
      root.#key = k;
      root.#value = had ? old : ABSENT;
      v.#next = null;
      v.#key = '';
      v.#value = undefined;
    }
  }
}

/** The entries of one lineage of a `PFixedMap`: keys numbered once, values as its root version has them. */
type FixedStore = {
  readonly index: ReadonlyMap<string, number>;
  readonly keys: readonly string[];
  readonly vals: unknown[];
  sorted: readonly string[] | null;
};

/**
 * A persistent map whose keys are fixed when it is made (a configuration's pairs), numbered in the
 * order they were given: `at(i)` reads an entry by its number, without hashing its key. It
 * re-roots as `PMap` does, with the same interface and the same iteration order (by key). Adding
 * or removing a key makes a new lineage (a copy): the decider never does.
 */
export class PFixedMap<V> implements Iterable<[string, V]> {
  readonly #store: FixedStore;
  #next: PFixedMap<V> | null = null;
  #slot = 0;
  #value: unknown = undefined;

  private constructor(store: FixedStore) {
    this.#store = store;
  }

  static empty<V>(): PFixedMap<V> {
    return PFixedMap.from<V>([]);
  }
  /** A map of these entries, numbered in order of first appearance; of two equal keys the later value wins. */
  static from<V>(entries: Iterable<readonly [string, V]>): PFixedMap<V> {
    const index = new Map<string, number>();
    const keys: string[] = [];
    const vals: unknown[] = [];
    eachEntry(entries, (k, v) => {
      const i = index.get(k);
      if (i !== undefined) {
        vals[i] = v;
        return;
      }
      index.set(k, keys.length);
      keys.push(k);
      vals.push(v);
    });
    return new PFixedMap<V>({ index, keys, vals, sorted: null });
  }

  get size(): number {
    return this.#store.keys.length;
  }
  /** The number of `key` in this map's lineage. */
  indexOf(key: string): number | undefined {
    return this.#store.index.get(key);
  }
  /** The entry numbered `i`. */
  at(i: number): V | undefined {
    if (this.#next !== null) this.#reroot();
    return this.#store.vals[i] as V | undefined;
  }
  get(key: string): V | undefined {
    const i = this.#store.index.get(key);
    return i === undefined ? undefined : this.at(i);
  }
  has(key: string): boolean {
    return this.#store.index.has(key);
  }
  set(key: string, value: V): PFixedMap<V> {
    const i = this.#store.index.get(key);
    if (i === undefined) return PFixedMap.from<V>([...this.entries(), [key, value]]);
    if (this.#next !== null) this.#reroot();
    const vals = this.#store.vals;
    const old = vals[i];
    if (old === value) return this;
    vals[i] = value;
    const next = new PFixedMap<V>(this.#store);
    this.#next = next;
    this.#slot = i;
    this.#value = old;
    return next;
  }
  delete(key: string): PFixedMap<V> {
    if (!this.#store.index.has(key)) return this;
    return PFixedMap.from<V>([...this.entries()].filter(([k]) => k !== key));
  }

  *entries(): IterableIterator<[string, V]> {
    const keys = this.#sortedKeys();
    const { index, vals } = this.#store;
    const out = keys.map((k): [string, V] => [k, vals[index.get(k) as number] as V]);
    yield* out;
  }
  *keys(): IterableIterator<string> {
    yield* this.#sortedKeys();
  }
  *values(): IterableIterator<V> {
    const { index, vals } = this.#store;
    const out = this.#sortedKeys().map((k) => vals[index.get(k) as number] as V);
    yield* out;
  }
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
  /** JSON as an object, keys sorted. */
  toJSON(): Record<string, V> {
    const o: Record<string, V> = {};
    for (const [k, v] of this.entries()) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }

  #sortedKeys(): readonly string[] {
    if (this.#next !== null) this.#reroot();
    const s = this.#store;
    return (s.sorted ??= [...s.keys].sort());
  }

  /** As `PMap`'s: the diffs from this version to the root are applied and inverted, nearest the root first. */
  #reroot(): void {
    const path: PFixedMap<V>[] = [this];
    for (let v = this.#next; v !== null && v.#next !== null; v = v.#next) path.push(v);
    const vals = this.#store.vals;
    for (let i = path.length - 1; i >= 0; i--) {
      const v = path[i] as PFixedMap<V>;
      const root = v.#next as PFixedMap<V>;
      const slot = v.#slot;
      root.#next = v;
      root.#slot = slot;
      root.#value = vals[slot];
      vals[slot] = v.#value;
      v.#next = null;
      v.#slot = 0;
      v.#value = undefined;
    }
  }
}
