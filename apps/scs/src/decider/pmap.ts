// A persistent hash map from string keys, for the decider's state (decision 0006): an update
// returns a new map that shares all but one path of at most 7 small nodes with the old one, which
// is never changed. A CHAMP trie (Steindorfer and Vinju, 2015): each node holds its entries and
// its sub-nodes in one compact array, indexed by two 32-bit bitmaps; after a deletion a node is
// left in the one shape its keys give it, so equal key sets iterate in the same order whatever
// their history. Pure: no clock, no randomness, nothing shared but immutable nodes.

const BITS = 5;
const MASK = 31;
/** Past this shift the 32 hash bits are used up: keys whose hashes are equal share a list. */
const MAX_SHIFT = 30;

/** FNV-1a over UTF-16 code units, then a murmur3 finaliser so that every bit depends on every character. */
export const hashKey = (key: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
};

const bitCount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
};

/**
 * `data` marks the slots holding an entry, `nodes` those holding a sub-node. `slots` holds the
 * entries first, as key, value, key, value (in slot order), then the sub-nodes in reverse slot order.
 */
class Node {
  constructor(
    readonly data: number,
    readonly nodes: number,
    readonly slots: readonly unknown[],
  ) {}
}

/** Keys whose 32 hash bits are all equal: key, value, key, value. */
class Collision {
  constructor(
    readonly hash: number,
    readonly slots: readonly unknown[],
  ) {}
}

type Trie = Node | Collision;

const EMPTY_NODE = new Node(0, 0, []);

const dataIndex = (n: Node, bit: number): number => 2 * bitCount(n.data & (bit - 1));
const nodeIndex = (n: Node, bit: number): number => n.slots.length - 1 - bitCount(n.nodes & (bit - 1));

/** What `lookup` answers for a key that is not there (a value may be `undefined`). */
const ABSENT: unique symbol = Symbol('absent');

const lookup = (root: Trie, key: string, hash: number): unknown => {
  let t: Trie = root;
  for (let shift = 0; ; shift += BITS) {
    if (t instanceof Collision) {
      const s = t.slots;
      for (let i = 0; i < s.length; i += 2) if (s[i] === key) return s[i + 1];
      return ABSENT;
    }
    const bit = 1 << ((hash >>> shift) & MASK);
    if (t.data & bit) {
      const i = dataIndex(t, bit);
      return t.slots[i] === key ? t.slots[i + 1] : ABSENT;
    }
    if (!(t.nodes & bit)) return ABSENT;
    t = t.slots[nodeIndex(t, bit)] as Trie;
  }
};

/** A trie of two entries whose keys differ, from `shift` on. */
const twoEntries = (k1: string, v1: unknown, h1: number, k2: string, v2: unknown, h2: number, shift: number): Trie => {
  if (shift > MAX_SHIFT) return new Collision(h1, [k1, v1, k2, v2]);
  const b1 = (h1 >>> shift) & MASK;
  const b2 = (h2 >>> shift) & MASK;
  if (b1 === b2) return new Node(0, 1 << b1, [twoEntries(k1, v1, h1, k2, v2, h2, shift + BITS)]);
  return new Node((1 << b1) | (1 << b2), 0, b1 < b2 ? [k1, v1, k2, v2] : [k2, v2, k1, v1]);
};

// What the last `insert` or `remove` did (set before each call; the trie code never re-enters).
let added = false;
let removed = false;

const withSlot = (s: readonly unknown[], i: number, v: unknown): unknown[] => {
  const c = s.slice();
  c[i] = v;
  return c;
};

const insert = (t: Trie, key: string, value: unknown, hash: number, shift: number): Trie => {
  if (t instanceof Collision) {
    const s = t.slots;
    for (let i = 0; i < s.length; i += 2) {
      if (s[i] === key) return s[i + 1] === value ? t : new Collision(t.hash, withSlot(s, i + 1, value));
    }
    added = true;
    return new Collision(t.hash, [...s, key, value]);
  }
  const bit = 1 << ((hash >>> shift) & MASK);
  const s = t.slots;
  if (t.data & bit) {
    const i = dataIndex(t, bit);
    const k = s[i] as string;
    if (k === key) return s[i + 1] === value ? t : new Node(t.data, t.nodes, withSlot(s, i + 1, value));
    // two keys in one slot: the entry moves down into a new sub-node
    added = true;
    const sub = twoEntries(k, s[i + 1], hashKey(k), key, value, hash, shift + BITS);
    const data = t.data ^ bit;
    const nodes = t.nodes | bit;
    const at = s.length - 2 - bitCount(nodes & (bit - 1)); // where the sub-node goes, among s.length - 1 slots
    const out: unknown[] = [];
    for (let r = 0; r < s.length; r++) {
      if (r === i || r === i + 1) continue;
      if (out.length === at) out.push(sub);
      out.push(s[r]);
    }
    if (out.length === at) out.push(sub);
    return new Node(data, nodes, out);
  }
  if (t.nodes & bit) {
    const i = nodeIndex(t, bit);
    const sub = s[i] as Trie;
    const next = insert(sub, key, value, hash, shift + BITS);
    return next === sub ? t : new Node(t.data, t.nodes, withSlot(s, i, next));
  }
  added = true;
  const i = dataIndex(t, bit);
  const out: unknown[] = [];
  for (let r = 0; r < i; r++) out.push(s[r]);
  out.push(key, value);
  for (let r = i; r < s.length; r++) out.push(s[r]);
  return new Node(t.data | bit, t.nodes, out);
};

/** A trie that holds a single entry, which its parent takes in instead (the canonical shape). */
const single = (t: Trie): [string, unknown] | null => {
  if (t instanceof Collision) return t.slots.length === 2 ? [t.slots[0] as string, t.slots[1]] : null;
  return t.nodes === 0 && bitCount(t.data) === 1 ? [t.slots[0] as string, t.slots[1]] : null;
};

const remove = (t: Trie, key: string, hash: number, shift: number): Trie => {
  if (t instanceof Collision) {
    const s = t.slots;
    for (let i = 0; i < s.length; i += 2) {
      if (s[i] !== key) continue;
      removed = true;
      return new Collision(t.hash, [...s.slice(0, i), ...s.slice(i + 2)]);
    }
    return t;
  }
  const bit = 1 << ((hash >>> shift) & MASK);
  const s = t.slots;
  if (t.data & bit) {
    const i = dataIndex(t, bit);
    if (s[i] !== key) return t;
    removed = true;
    return new Node(t.data ^ bit, t.nodes, [...s.slice(0, i), ...s.slice(i + 2)]);
  }
  if (!(t.nodes & bit)) return t;
  const i = nodeIndex(t, bit);
  const sub = s[i] as Trie;
  const next = remove(sub, key, hash, shift + BITS);
  if (next === sub) return t;
  const one = single(next);
  if (!one) return new Node(t.data, t.nodes, withSlot(s, i, next));
  // the sub-node is down to one entry: it comes back up as an entry of this node
  const data = t.data | bit;
  const at = 2 * bitCount(data & (bit - 1));
  const rest = [...s.slice(0, i), ...s.slice(i + 1)];
  return new Node(data, t.nodes ^ bit, [...rest.slice(0, at), one[0], one[1], ...rest.slice(at)]);
};

/**
 * Builds the trie of distinct keys at once (each node made once, in its final shape): the same
 * trie as inserting them one by one would give, without the copies.
 */
const build = (keys: readonly string[], values: readonly unknown[], hashes: readonly number[], idx: readonly number[], shift: number): Trie => {
  if (shift > MAX_SHIFT) return new Collision(hashes[idx[0] ?? 0] ?? 0, idx.flatMap((i) => [keys[i], values[i]]));
  const groups = new Map<number, number[]>();
  for (const i of idx) {
    const slot = ((hashes[i] ?? 0) >>> shift) & MASK;
    const g = groups.get(slot);
    if (g) g.push(i);
    else groups.set(slot, [i]);
  }
  const slots = [...groups.keys()].sort((a, b) => a - b);
  let data = 0;
  let nodes = 0;
  const entries: unknown[] = [];
  const subs: Trie[] = [];
  for (const slot of slots) {
    const g = groups.get(slot) ?? [];
    if (g.length === 1) {
      data |= 1 << slot;
      entries.push(keys[g[0] ?? 0], values[g[0] ?? 0]);
    } else {
      nodes |= 1 << slot;
      subs.push(build(keys, values, hashes, g, shift + BITS));
    }
  }
  return new Node(data, nodes, [...entries, ...subs.reverse()]);
};

function* walk(t: Trie): Generator<[string, unknown]> {
  const s = t.slots;
  if (t instanceof Collision) {
    for (let i = 0; i < s.length; i += 2) yield [s[i] as string, s[i + 1]];
    return;
  }
  const entries = 2 * bitCount(t.data);
  for (let i = 0; i < entries; i += 2) yield [s[i] as string, s[i + 1]];
  for (let i = s.length - 1; i >= entries; i--) yield* walk(s[i] as Trie);
}

/**
 * An immutable map from strings. Read it with `get`, `has`, `size` and iteration (`keys()`,
 * `values()`, `entries()`); `set` and `delete` return a new map, or the same one when nothing changes.
 * Iteration follows the keys' hashes: the same for the same keys, but no order to rely on (sort).
 */
export class PMap<V> implements Iterable<[string, V]> {
  static readonly #empty = new PMap<never>(EMPTY_NODE, 0);

  private constructor(
    readonly root: Node,
    readonly size: number,
  ) {}

  static empty<V>(): PMap<V> {
    return PMap.#empty;
  }
  /** A map of these entries; of two equal keys the later one wins. */
  static from<V>(entries: Iterable<readonly [string, V]>): PMap<V> {
    const last = new Map<string, V>();
    for (const [k, v] of entries) last.set(k, v);
    if (last.size === 0) return PMap.empty<V>();
    const keys = [...last.keys()];
    const hashes = keys.map(hashKey);
    return new PMap(build(keys, [...last.values()], hashes, keys.map((_, i) => i), 0) as Node, keys.length);
  }

  get(key: string): V | undefined {
    const v = lookup(this.root, key, hashKey(key));
    return v === ABSENT ? undefined : (v as V);
  }
  has(key: string): boolean {
    return lookup(this.root, key, hashKey(key)) !== ABSENT;
  }
  set(key: string, value: V): PMap<V> {
    added = false;
    const root = insert(this.root, key, value, hashKey(key), 0) as Node;
    return root === this.root ? this : new PMap(root, added ? this.size + 1 : this.size);
  }
  delete(key: string): PMap<V> {
    if (this.size === 0) return this;
    removed = false;
    const root = remove(this.root, key, hashKey(key), 0) as Node;
    return removed ? (this.size === 1 ? PMap.empty<V>() : new PMap(root, this.size - 1)) : this;
  }

  *entries(): IterableIterator<[string, V]> {
    for (const e of walk(this.root)) yield e as [string, V];
  }
  *keys(): IterableIterator<string> {
    for (const [k] of walk(this.root)) yield k;
  }
  *values(): IterableIterator<V> {
    for (const e of walk(this.root)) yield e[1] as V;
  }
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
  /** JSON as an object, keys sorted. */
  toJSON(): Record<string, V> {
    const o: Record<string, V> = {};
    for (const k of [...this.keys()].sort()) Object.defineProperty(o, k, { value: this.get(k), enumerable: true, writable: true, configurable: true });
    return o;
  }
}
