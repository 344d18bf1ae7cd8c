import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PMap } from './pmap.js';

const RUNS = Number(process.env['HA_PROP_RUNS'] ?? 300);

type Op = { k: 'set'; key: string; value: number } | { k: 'delete'; key: string };

const key = fc.oneof(
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

describe('PMap (re-rooting persistent map of the decider state)', () => {
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

  it('every version stays as it was, read and updated in any order (re-rooting back and forth)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), op), { maxLength: 200 }), fc.array(fc.nat(), { maxLength: 100 }), (steps, reads) => {
        // each step updates some earlier version: the versions form a tree, not a line
        const versions: [PMap<number>, Map<string, number>][] = [[PMap.empty<number>(), new Map()]];
        for (const [from, o] of steps) {
          const [m, model] = versions[from % versions.length] ?? versions[0]!;
          const next = new Map(model);
          if (o.k === 'set') next.set(o.key, o.value);
          else next.delete(o.key);
          versions.push([o.k === 'set' ? m.set(o.key, o.value) : m.delete(o.key), next]);
        }
        for (const r of reads) {
          const [m, model] = versions[r % versions.length] ?? versions[0]!;
          sameAs(m, model);
        }
        for (const [m, model] of versions) sameAs(m, model);
      }),
      { numRuns: RUNS },
    );
  });

  it('iterates by key in code-unit order, whatever the history', () => {
    fc.assert(
      fc.property(fc.uniqueArray(key, { maxLength: 200 }), fc.array(key, { maxLength: 100 }), (keys, extra) => {
        const a = PMap.from(keys.map((k): [string, number] => [k, 1]));
        let b = PMap.empty<number>();
        for (const k of [...keys].reverse()) b = b.set(k, 1);
        for (const k of extra) b = b.set(k, 1);
        for (const k of extra) if (!keys.includes(k)) b = b.delete(k);
        expect([...a.keys()]).toEqual([...keys].sort());
        expect([...b.keys()]).toEqual([...a.keys()]);
        expect(b).toEqual(a);
        expect(b).not.toEqual(a.set(keys[0] ?? 'x', 2));
      }),
      { numRuns: RUNS },
    );
  });

  it('builds from entries: the later of two equal keys wins', () => {
    const m = PMap.from([['a', 1], ['b', 2], ['a', 3]]);
    expect(m.size).toBe(2);
    expect(m.get('a')).toBe(3);
    expect(PMap.from([]).size).toBe(0);
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
