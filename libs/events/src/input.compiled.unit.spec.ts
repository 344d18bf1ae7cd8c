import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { z } from 'zod';
import { codec } from './envelope.js';
import { AppCommandSchema, HeartbeatSchema } from './lca.js';
import { compiled, InputSchema, parseInput, type Input } from './input.js';

// The compiled schemas (z.compile) must be indistinguishable from the plain ones: same verdict, same
// output value (defaults filled in, unknown keys stripped, same key order), same issues. Checked on
// one valid message of every input type, on the golden log, and on random mutations of them.

const lca = { v: 1, host: 'host-a', lca: 3, n: 7 } as const;
const scs = { v: 1, epoch: 2, scs: 'scs-1' } as const;
const op = { v: 1, pair: 'p1', requestId: 'r-1' } as const;
const heartbeat = {
  type: 'Heartbeat',
  v: 1,
  host: 'host-a',
  lca: 3,
  n: 7,
  pid: 100,
  apps: [
    { app: 'a0', incarnation: 12, pid: 4242, status: 'started', role: 'primary' },
    { app: 'b0', incarnation: null, pid: null, status: 'stopped', role: 'backup' },
  ],
} as const;
const config = {
  cluster: 'c1',
  hosts: [{ id: 'host-a' }, { id: 'host-b' }],
  applications: [
    { id: 'a0', host: 'host-a', command: ['sleep', '1'], endpoint: '127.0.0.1:1', redundancy: { backup: 'b0' } },
    { id: 'b0', host: 'host-b', command: ['sleep', '1'], probe: { kind: 'tcp', intervalMs: 100 } },
  ],
};

/** One valid message of every input type, some with their defaulted fields left out. */
const VALID: readonly unknown[] = [
  { type: 'LcaStarted', ...lca, lca: 0, n: 0, pid: 10, bootId: 'b1', ended: ['x'] },
  { type: 'LcaStarted', ...lca, pid: 10, bootId: 'b1' },
  { type: 'AppStarted', ...lca, app: 'a0', pid: 11, role: 'backup', command: 'cmd:1:0', status: 'starting' },
  { type: 'AppStarted', ...lca, app: 'a0', pid: 11, role: 'backup' },
  { type: 'AppStatusChanged', ...lca, app: 'a0', incarnation: 5, status: 'service-unavailable', detail: 'db down' },
  { type: 'AppStatusChanged', ...lca, app: 'a0', incarnation: 5, status: 'started' },
  { type: 'AppExited', ...lca, app: 'a0', incarnation: 5, pid: 11, code: null, signal: 'SIGKILL', expected: true, cause: 'hung' },
  { type: 'AppExited', ...lca, app: 'a0', incarnation: 5, pid: null, code: 1, signal: null },
  { type: 'AppSelfFenced', ...lca, app: 'a0', incarnation: 5, fenced: true, monoNs: '123456789' },
  { type: 'LcaDraining', ...lca },
  { type: 'LcaStopped', ...lca, drained: false },
  { type: 'AppRoleChanged', ...lca, app: 'a0', incarnation: 5, role: 'primary', epoch: 2, command: 'cmd:9:0' },
  { type: 'AppRoleChanged', ...lca, app: 'a0', incarnation: 5, role: 'backup', epoch: 0, command: null },
  { type: 'LcaResumed', ...lca, gapMs: 1500, cause: 'paused' },
  { type: 'CommandRefused', ...lca, app: 'a0', command: 'cmd:9:0', reason: 'stale epoch', kind: 'peer-check' },
  { type: 'CommandRefused', ...lca, app: 'a0', command: 'cmd:9:0', reason: 'stale epoch' },
  { type: 'ScsClaimed', v: 1, scs: 'scs-1', deciderVersion: 1 },
  { type: 'ConfigApplied', ...scs, config },
  { type: 'HostLost', ...scs, host: 'host-a', lca: 3, n: 7, lastHeartbeatAt: '2026-11-25T08:00:00.000Z', silenceMs: 1000 },
  { type: 'HostLost', ...scs, host: 'host-a', lca: null, lastHeartbeatAt: null, silenceMs: 0 },
  { type: 'HostReturned', ...scs, host: 'host-a', heartbeat },
  { type: 'TimerFired', ...scs, timer: 'restart:a0:3' },
  { type: 'SwitchoverRequested', ...op, by: 'alice' },
  { type: 'PauseRequested', ...op },
  { type: 'ResumeRequested', ...op },
];

const golden = (): unknown[] =>
  readFileSync(new URL('../../../test/fixtures/golden-faults.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { t: string; data?: string })
    .filter((r) => r.t === 'event' && typeof r.data === 'string')
    .map((r) => JSON.parse(r.data!) as unknown);

/** Plain and compiled agree: verdict, value (deep and in key order), issues. */
const agree = (plain: z.ZodType, fast: z.ZodType, value: unknown): boolean => {
  const a = plain.safeParse(value);
  const b = fast.safeParse(value);
  expect(b.success).toBe(a.success);
  if (a.success && b.success) {
    expect(b.data).toStrictEqual(a.data);
    expect(JSON.stringify(b.data)).toBe(JSON.stringify(a.data));
    expect(b.data).not.toBe(value);
  } else {
    expect(b.error?.issues).toEqual(a.error?.issues);
  }
  return a.success;
};

const WEIRD: readonly unknown[] = [
  null, undefined, NaN, Infinity, -Infinity, -0, 0, -1, 1, 1.5, 2 ** 53, -(2 ** 53), 1e21, '', 'x', '123', '12a', ' 1',
  'primary', 'backup', 'started', 'stopped', 'service-unavailable', 'exit', 'paused', 'AppExited', 'TimerFired', true,
  false, [], {}, ['x'], [1], { a: 1 }, { type: 'AppExited' },
];
const EXTRA_KEYS = ['extra', 'constructor', 'toString', '__proto__', 'type', 'v', 'host', 'valueOf', '0'];

type Path = (string | number)[];
const pathsOf = (v: unknown, at: Path = []): Path[] => {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...at, k]));
  return out;
};
const clone = (v: unknown): unknown => structuredClone(v);
const parentOf = (root: unknown, p: Path): Record<string | number, unknown> | null => {
  let cur = root;
  for (const k of p.slice(0, -1)) cur = (cur as Record<string | number, unknown>)[k];
  return cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>) : null;
};
/** Sets an own property, as JSON.parse would (even for `__proto__`). */
const setOwn = (o: object, k: string | number, v: unknown): void => {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
};

type Mutation =
  | { k: 'delete'; path: number }
  | { k: 'replace'; path: number; value: number }
  | { k: 'extra'; path: number; key: number; value: number }
  | { k: 'edit'; path: number; how: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constant('delete' as const), path: fc.nat() }),
  fc.record({ k: fc.constant('replace' as const), path: fc.nat(), value: fc.nat(WEIRD.length - 1) }),
  fc.record({ k: fc.constant('extra' as const), path: fc.nat(), key: fc.nat(EXTRA_KEYS.length - 1), value: fc.nat(WEIRD.length - 1) }),
  fc.record({ k: fc.constant('edit' as const), path: fc.nat(), how: fc.nat(5) }),
);

/** Applies mutations (each to a path of the value as it is then); the root is replaced whole only by `replace`. */
const mutate = (v: unknown, ms: readonly Mutation[]): unknown => {
  let root = clone(v);
  for (const m of ms) {
    const paths = pathsOf(root);
    const p = paths[m.path % paths.length]!;
    const parent = parentOf(root, p);
    const key = p[p.length - 1];
    const cur = p.length === 0 ? root : parent?.[key!];
    switch (m.k) {
      case 'delete':
        if (parent && key !== undefined) {
          if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
          else delete parent[key];
        }
        break;
      case 'replace':
        if (p.length === 0) root = clone(WEIRD[m.value]);
        else if (parent && key !== undefined) setOwn(parent, key, clone(WEIRD[m.value]));
        break;
      case 'extra': {
        const target = cur !== null && typeof cur === 'object' ? cur : parent;
        if (target) setOwn(target, EXTRA_KEYS[m.key]!, clone(WEIRD[m.value]));
        break;
      }
      case 'edit': {
        if (!parent || key === undefined) break;
        const edits: ((x: unknown) => unknown)[] = [
          (x) => (typeof x === 'number' ? x + 1 : typeof x === 'string' ? `${x}x` : x),
          (x) => (typeof x === 'number' ? -x : typeof x === 'string' ? x.toUpperCase() : x),
          (x) => (typeof x === 'number' ? x + 0.5 : typeof x === 'string' ? '' : x),
          (x) => (typeof x === 'number' ? String(x) : typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x),
          (x) => (Array.isArray(x) ? [...x, x[0] ?? 1] : typeof x === 'boolean' ? !x : x),
          (x) => (typeof x === 'number' ? 0 : typeof x === 'string' ? `1${x}` : x),
        ];
        setOwn(parent, key, edits[m.how % edits.length]!(cur));
        break;
      }
    }
  }
  return root;
};

// many thousands of parses: no tight default timeout on a shared machine
describe('compiled schemas (z.compile) agree with the plain ones', { timeout: 60_000 }, () => {
  it('accepts every valid sample, the same value, unknown keys stripped and defaults filled in', () => {
    for (const v of VALID) expect(agree(InputSchema, compiled.input, v)).toBe(true);
    const withExtra = { ...(VALID[2] as object), extra: 1, nested: { x: 1 } };
    expect(agree(InputSchema, compiled.input, withExtra)).toBe(true);
    expect(compiled.input.parse(withExtra)).not.toHaveProperty('extra');
    expect(compiled.input.parse(VALID[3])).toMatchObject({ command: null, status: 'started' });
  });

  it('agrees on the golden log', () => {
    const log = golden();
    expect(log.length).toBeGreaterThan(10);
    for (const v of log) expect(agree(InputSchema, compiled.input, v)).toBe(true);
  });

  it('agrees on random mutations of valid inputs (missing fields, wrong types, extra keys, bad enums, NaN, ranges, nesting)', () => {
    let rejected = 0;
    let accepted = 0;
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 3 }), (v, ms) => {
        if (agree(InputSchema, compiled.input, mutate(v, ms))) accepted++;
        else rejected++;
      }),
      { numRuns: 20_000, seed: 8008 },
    );
    // both kinds must be exercised for the comparison to mean something
    expect(rejected).toBeGreaterThan(5_000);
    expect(accepted).toBeGreaterThan(1_000);
  });

  it('agrees through JSON, as messages arrive (parseInput vs a zod-only parse)', () => {
    const zodOnly = (subject: string, data: Uint8Array) => {
      const json = codec.decodeJson(data);
      return json.ok ? InputSchema.safeParse(json.value).success : false;
    };
    fc.assert(
      fc.property(fc.constantFrom(...VALID), fc.array(mutation, { maxLength: 2 }), (v, ms) => {
        const m = mutate(v, ms);
        const data = codec.encode(m ?? null);
        const input = InputSchema.safeParse(JSON.parse(JSON.stringify(m ?? null)));
        const subject = input.success ? subjectOf(input.data) : 'ha.evt.scs.x';
        const r = parseInput(subject, data);
        expect(r.ok).toBe(zodOnly(subject, data));
        if (r.ok && input.success) expect(r.value).toStrictEqual(input.data);
      }),
      { numRuns: 5_000, seed: 4 },
    );
  });

  it('agrees on heartbeats and commands', () => {
    const command = { type: 'AppCommand', v: 1, id: 'cmd:9:0', epoch: 2, host: 'host-a', app: 'a0', action: 'promote', lca: 3, incarnation: null, causeSeq: 9 };
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 3 }), (ms) => {
        agree(HeartbeatSchema, compiled.heartbeat, mutate(heartbeat, ms));
        agree(AppCommandSchema, compiled.command, mutate(command, ms));
      }),
      { numRuns: 5_000, seed: 15 },
    );
  });
});

const subjectOf = (i: Input): string => {
  if (i.type === 'SwitchoverRequested' || i.type === 'PauseRequested' || i.type === 'ResumeRequested') return 'ha.evt.op.x';
  if ('host' in i && i.type !== 'HostLost' && i.type !== 'HostReturned') return `ha.evt.host.${i.host}.x`;
  return 'ha.evt.scs.x';
};
