import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PFixedMap } from './pmap.js';

const RUNS = Number(process.env['HA_PROP_RUNS'] ?? 300);

const KEYS = ['p', '7', '10', 'a', 'b', '01', 'constructor', '__proto__'] as const;
type Op = { k: 'set'; key: string; value: number } | { k: 'delete'; key: string } | { k: 'read'; version: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ k: fc.constant('set' as const), key: fc.constantFrom(...KEYS), value: fc.nat(5) }), weight: 6 },
  { arbitrary: fc.record({ k: fc.constant('set' as const), key: fc.constantFrom('new', 'z'), value: fc.nat(5) }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('delete' as const), key: fc.constantFrom(...KEYS, 'new') }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('read' as const), version: fc.nat() }), weight: 3 },
);

const sameAs = (m: PFixedMap<number>, model: ReadonlyMap<string, number>): void => {
  expect(m.size).toBe(model.size);
  expect([...m.entries()]).toEqual([...model].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  expect([...m.keys()]).toEqual([...model.keys()].sort());
  for (const [k, v] of model) {
    expect(m.get(k)).toBe(v);
    expect(m.has(k)).toBe(true);
    expect(m.at(m.indexOf(k)!)).toBe(v);
  }
};

describe('PFixedMap (re-rooting map with keys numbered once: the pairs)', () => {
  it('numbers keys in order of first appearance; the later of two equal keys gives the value', () => {
    const m = PFixedMap.from([['b', 1], ['a', 2], ['b', 3]]);
    expect(m.size).toBe(2);
    expect(m.indexOf('b')).toBe(0);
    expect(m.indexOf('a')).toBe(1);
    expect(m.at(0)).toBe(3);
    expect([...m.keys()]).toEqual(['a', 'b']);
    expect(m.set('a', 2)).toBe(m);
    expect(m.delete('x')).toBe(m);
    const n = m.set('a', 5);
    expect(m.get('a')).toBe(2);
    expect(n.get('a')).toBe(5);
    expect(PFixedMap.empty<number>().size).toBe(0);
    expect(JSON.stringify(n)).toBe('{"a":5,"b":3}');
  });

  it('behaves as a Map, and every version stays as it was, read and updated in any order', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.array(fc.nat(5), { minLength: KEYS.length, maxLength: KEYS.length }), (ops, init) => {
        const start = KEYS.map((k, i) => [k, init[i]!] as const);
        const versions: [PFixedMap<number>, Map<string, number>][] = [[PFixedMap.from(start), new Map(start)]];
        for (const o of ops) {
          // updates are made on any version, not only the newest: a tree of versions
          const [m, model] = versions[o.k === 'read' ? o.version % versions.length : Math.floor(versions.length / 2 + (o.key.length % 2) * (versions.length - 1) / 2)]!;
          if (o.k === 'read') {
            sameAs(m, model);
            continue;
          }
          const next = new Map(model);
          const n = o.k === 'set' ? m.set(o.key, o.value) : m.delete(o.key);
          if (o.k === 'set') next.set(o.key, o.value);
          else next.delete(o.key);
          sameAs(n, next);
          versions.push([n, next]);
        }
        for (const [m, model] of versions.reverse()) sameAs(m, model);
      }),
      { numRuns: RUNS },
    );
  });
});
