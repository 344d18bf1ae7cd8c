import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PMap, hashKey } from './pmap.js';

// Keys whose 32-bit hashes are all equal: the map keeps them in one collision list. The first two
// were found by search, the others built by inverting FNV-1a steps.
const COLLIDING = ['k32728', 'k261234', String.fromCharCode(122, 25538, 8119), String.fromCharCode(122, 32963, 63264), String.fromCharCode(121, 40403, 18287)];

const RUNS = Number(process.env['HA_PROP_RUNS'] ?? 300);

type Op = { k: 'set'; key: string; value: number } | { k: 'delete'; key: string };

const key = fc.oneof(
  { arbitrary: fc.constantFrom(...COLLIDING), weight: 2 },
  { arbitrary: fc.string({ maxLength: 3 }), weight: 3 },
  { arbitrary: fc.nat(3000).map(String), weight: 3 },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('set' as const), key, value: fc.nat(5) }), weight: 3 },
  { arbitrary: fc.record({ k: fc.constant('delete' as const), key }), weight: 2 },
);

const sameAs = (m: PMap<number>, model: ReadonlyMap<string, number>): void => {
  expect(m.size).toBe(model.size);
  expect(new Map(m.entries())).toEqual(model);
  expect([...m.keys()].length).toBe(model.size); // no key twice
  for (const [k, v] of model) {
    expect(m.get(k)).toBe(v);
    expect(m.has(k)).toBe(true);
  }
};

describe('PMap (persistent hash map of the decider state)', () => {
  it('the colliding keys do collide', () => {
    for (const k of COLLIDING) expect(hashKey(k)).toBe(hashKey(COLLIDING[0] ?? ''));
  });

  it('gets, sets, deletes; unchanged maps are returned as they are', () => {
    const e = PMap.empty<number>();
    expect(e.size).toBe(0);
    expect(e.get('a')).toBeUndefined();
    const a = e.set('a', 1);
    expect(a.get('a')).toBe(1);
    expect(a.has('b')).toBe(false);
    expect(a.set('a', 1)).toBe(a);
    expect(a.delete('b')).toBe(a);
    expect(a.delete('a').size).toBe(0);
    expect(e.get('a')).toBeUndefined(); // the old map is untouched
    const u = PMap.empty<number | undefined>().set('x', undefined);
    expect(u.has('x')).toBe(true);
    expect(u.size).toBe(1);
  });

  it('keeps keys that share every hash bit apart', () => {
    let m = PMap.empty<number>();
    COLLIDING.forEach((k, i) => (m = m.set(k, i)));
    COLLIDING.forEach((k, i) => expect(m.get(k)).toBe(i));
    for (const k of COLLIDING.slice(1)) m = m.delete(k);
    expect([...m.entries()]).toEqual([[COLLIDING[0], 0]]);
  });

  it('behaves as a Map, and every earlier version stays as it was (random operations)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        let m = PMap.empty<number>();
        const model = new Map<string, number>();
        const versions: [PMap<number>, Map<string, number>][] = [];
        for (const o of ops) {
          if (o.k === 'set') {
            m = m.set(o.key, o.value);
            model.set(o.key, o.value);
          } else {
            m = m.delete(o.key);
            model.delete(o.key);
          }
          expect(m.size).toBe(model.size);
          versions.push([m, new Map(model)]);
        }
        for (const [v, snapshot] of versions) sameAs(v, snapshot);
      }),
      { numRuns: RUNS },
    );
  });

  it('has one shape per key set: same iteration order whatever the history', () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 200 }), fc.array(key, { maxLength: 100 }), fc.integer(), (keys, extra, seed) => {
        const a = PMap.from(keys.map((k) => [k, 1] as const));
        let one = PMap.empty<number>();
        for (const k of keys) one = one.set(k, 1);
        expect(a).toEqual(one); // built at once, or key by key: the same trie
        expect(a.size).toBe(keys.length);
        let b = PMap.empty<number>();
        for (const k of [...keys].sort((x, y) => (hashKey(x + String(seed)) - hashKey(y + String(seed))))) b = b.set(k, 1);
        for (const k of extra) b = b.set(k, 1);
        for (const k of extra) if (!keys.includes(k)) b = b.delete(k);
        expect([...b.keys()]).toEqual([...a.keys()]);
        expect(b).toEqual(a);
      }),
      { numRuns: RUNS },
    );
  });

  it('builds from entries: the later of two equal keys wins', () => {
    const m = PMap.from([['a', 1], ['b', 2], ['a', 3], [COLLIDING[0] ?? '', 4], [COLLIDING[1] ?? '', 5]]);
    expect(m.size).toBe(4);
    expect(m.get('a')).toBe(3);
    expect(m.get(COLLIDING[1] ?? '')).toBe(5);
    expect(PMap.from([])).toBe(PMap.empty());
  });

  it('scales: 100,000 keys in, half of them out', () => {
    let m = PMap.empty<number>();
    for (let i = 0; i < 100_000; i++) m = m.set(`app${i}`, i);
    expect(m.size).toBe(100_000);
    for (let i = 0; i < 100_000; i += 2) m = m.delete(`app${i}`);
    expect(m.size).toBe(50_000);
    expect(m.get('app99999')).toBe(99_999);
    expect(m.get('app99998')).toBeUndefined();
    expect([...m.values()].length).toBe(50_000);
  });

  it('serialises as an object with sorted keys', () => {
    const m = PMap.from([['b', 2], ['a', 1], ['__proto__', 3]]);
    expect(JSON.stringify({ m })).toBe('{"m":{"__proto__":3,"a":1,"b":2}}');
  });
});
