// `npm run chaos -- --minutes N --seed S`: the whole cluster as processes under a seeded schedule of
// faults, then an invariant check built on what the applications recorded themselves (role changes
// and fences, with process.hrtime, comparable across processes on one machine) and on the streams.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { EVENTS_STREAM } from '@ha/events';
import { Cluster, FAST_TIMING, alive, type ClusterSpec } from './cluster.js';
import { dumpLog } from './golden.js';
import { TcpProxy } from './proxy.js';
import { until } from './ports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COUNTER = join(ROOT, 'examples/counter-server/dist/main.js');

/** A small seeded PRNG (mulberry32): the same seed gives the same schedule. */
export const prng = (seed: number) => {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T };
};

export const FAULTS = ['kill-app', 'stop-app', 'kill-lca', 'stop-lca', 'cut-lca', 'kill-scs', 'stop-scs', 'restart-nats', 'restart-redis'] as const;
export type FaultKind = (typeof FAULTS)[number];

export type ChaosOptions = { seconds: number; seed: number; scs?: number; pairs?: number; log?: (s: string) => void; faults?: readonly FaultKind[]; /** identities on the bus (every process its own nkey) */ secure?: boolean };

export type ChaosReport = {
  seed: number;
  seconds: number;
  faults: Record<string, number>;
  /** Per fault kind: how many were injected, and how many violations began while one was under way or within the recovery bound after it. */
  perKind: Record<string, { faults: number; violations: number }>;
  violations: string[];
  recoveredMs: number | null;
  events: number;
  decisions: number;
  /** Decisions recorded for inputs appended after the log was read: not judged by the replay. */
  decisionsBeyondLog: number;
  switchovers: number;
};

const mono = (): bigint => process.hrtime.bigint();

type Rec = { app: string; pid: number; event: 'role' | 'fenced' | 'unfenced'; role: string; monoNs: string };

/** Acting-primary intervals per application run (pid), from its own records, cut at deaths and stops we caused. */
export const actingIntervals = (recs: readonly Rec[], ends: ReadonlyMap<number, bigint[]>, pauses: ReadonlyMap<number, [bigint, bigint][]>, horizon: bigint) => {
  const out: { app: string; pid: number; from: bigint; to: bigint }[] = [];
  const byPid = new Map<number, Rec[]>();
  for (const r of recs) byPid.set(r.pid, [...(byPid.get(r.pid) ?? []), r]);
  for (const [pid, rs] of byPid) {
    rs.sort((x, y) => (BigInt(x.monoNs) < BigInt(y.monoNs) ? -1 : 1));
    const death = (ends.get(pid) ?? []).reduce((m, t) => (t < m ? t : m), horizon);
    let role = 'backup';
    let fenced = false;
    let since: bigint | null = null;
    const close = (t: bigint) => {
      if (since !== null && t > since) out.push({ app: rs[0]!.app, pid, from: since, to: t < death ? t : death });
      since = null;
    };
    for (const r of rs) {
      const t = BigInt(r.monoNs);
      if (r.event === 'role') role = r.role;
      else fenced = r.event === 'fenced';
      const acting = role === 'primary' && !fenced;
      if (acting && since === null) since = t;
      else if (!acting) close(t);
    }
    close(death);
    // a stopped process does not act
    for (const [stop, cont] of pauses.get(pid) ?? []) {
      for (let i = out.length - 1; i >= 0; i--) {
        const iv = out[i]!;
        if (iv.pid !== pid || cont <= iv.from || stop >= iv.to) continue;
        out.splice(i, 1);
        if (stop > iv.from) out.push({ ...iv, to: stop });
        if (cont < iv.to) out.push({ ...iv, from: cont });
      }
    }
  }
  return out;
};

export const runChaos = async (o: ChaosOptions): Promise<ChaosReport> => {
  const log = o.log ?? ((s: string) => process.stderr.write(`chaos: ${s}\n`));
  const rnd = prng(o.seed);
  const kinds = o.faults ?? FAULTS;
  const hosts = ['host-a', 'host-b', 'host-c'];
  const pairs = Array.from({ length: o.pairs ?? 2 }, (_, i) => ({ primary: `k${i}`, backup: `k${i}b`, primaryHost: hosts[i % 3]!, backupHost: hosts[(i + 1) % 3]! }));
  const spec: ClusterSpec = {
    hosts,
    pairs,
    scs: o.scs ?? 2,
    command: ['node', COUNTER, '--port', '{port}', '--record', '{dir}/rec-{id}.jsonl'],
    app: () => ({ probe: { kind: 'sdk' } }),
    restart: { initialDelayMs: 100, maxDelayMs: 1000 },
    ...(o.secure ? { secure: true } : {}),
  };
  const proxies = new Map<string, TcpProxy>();
  const c = await Cluster.start(spec, {
    prepare: async (cl) => {
      for (const h of hosts) {
        const p = await TcpProxy.start(cl.nats.port);
        proxies.set(h, p);
        cl.lcaUrls.set(h, p.url);
      }
    },
  });
  const wallToMono = (ms: number): bigint => mono() - BigInt(Math.round((Date.now() - ms) * 1e6));
  const ends = new Map<number, bigint[]>(); // pid -> times we killed it
  const pauses = new Map<number, [bigint, bigint][]>();
  const counts: Record<string, number> = {};
  /** Every fault injected: its kind and when it started and ended (monotonic ns). */
  const windows: { kind: FaultKind; from: bigint; to: bigint }[] = [];
  const window = (kind: FaultKind, ms: number) => {
    const from = mono();
    windows.push({ kind, from, to: from + BigInt(ms) * 1_000_000n });
    counts[kind] = (counts[kind] ?? 0) + 1; // faults injected (a pick that found its target busy is not one)
  };
  const pending: Promise<void>[] = [];
  const later = (ms: number, f: () => Promise<void> | void) => pending.push(new Promise((r) => setTimeout(() => void Promise.resolve(f()).catch((e: Error) => log(`heal failed: ${e.message}`)).finally(r), ms)));
  const send = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  };
  /** SIGSTOP for `ms`, then SIGCONT; the pause is remembered (a stopped process does not act). */
  const pauseFor = (pid: number, ms: number) => {
    const from = mono();
    send(pid, 'SIGSTOP');
    later(ms, () => {
      send(pid, 'SIGCONT');
      pauses.set(pid, [...(pauses.get(pid) ?? []), [from, mono()]]);
    });
  };
  // Deaths nobody reports: an LCA that SIGKILLs a hung application and is killed before its
  // AppExited is stored. Every application run is watched; the first time it is seen gone bounds its
  // death (used only when nothing more exact is known).
  const seenGone = new Map<number, bigint>();
  const watched = new Set<number>();
  const offsets = new Map<string, number>();
  const scanRecords = () => {
    for (const p of pairs) for (const app of [p.primary, p.backup]) {
      const f = join(c.dir, `rec-${app}.jsonl`);
      const from = offsets.get(f) ?? 0;
      if (!existsSync(f) || statSync(f).size === from) continue;
      const text = readFileSync(f, 'utf8');
      const end = text.lastIndexOf('\n') + 1;
      for (const line of text.slice(from, end).split('\n').filter(Boolean)) watched.add((JSON.parse(line) as Rec).pid);
      offsets.set(f, end);
    }
  };
  const watcher = setInterval(() => {
    scanRecords();
    for (const pid of watched) {
      if (!seenGone.has(pid) && !alive(pid)) seenGone.set(pid, mono());
    }
  }, 10);
  const appPids = async () => (await c.status(2000).catch(() => null))?.applications.filter((a) => a.pid !== null) ?? [];
  const busy = new Set<string>(); // one fault at a time per target
  const end = Date.now() + o.seconds * 1000;
  try {
    while (Date.now() < end) {
      await new Promise((r) => setTimeout(r, rnd.int(600, 2000)));
      const kind = rnd.pick(kinds);
      const d = rnd.int(200, 2500);
      try {
        switch (kind) {
          case 'kill-app':
          case 'stop-app': {
            const apps = await appPids();
            if (apps.length === 0) break;
            const a = rnd.pick(apps);
            if (busy.has(a.id)) break;
            log(`${kind} ${a.id} pid ${a.pid}`);
            window(kind, kind === 'kill-app' ? 0 : d);
            if (kind === 'kill-app') {
              ends.set(a.pid!, [...(ends.get(a.pid!) ?? []), mono()]);
              process.kill(a.pid!, 'SIGKILL');
            } else {
              busy.add(a.id);
              pauseFor(a.pid!, d);
              later(d + 10, () => void busy.delete(a.id));
            }
            break;
          }
          case 'kill-lca':
          case 'stop-lca':
          case 'cut-lca': {
            const h = rnd.pick(hosts);
            if (busy.has(h)) break;
            busy.add(h);
            log(`${kind} ${h} for ${d} ms`);
            window(kind, d);
            if (kind === 'kill-lca') {
              c.lcas.get(h)!.signal('SIGKILL');
              later(d, () => { c.startLca(h); busy.delete(h); });
            } else if (kind === 'stop-lca') {
              pauseFor(c.lcas.get(h)!.pid, d);
              later(d + 10, () => void busy.delete(h));
            } else {
              proxies.get(h)!.cut();
              later(d, () => { proxies.get(h)!.restore(); busy.delete(h); });
            }
            break;
          }
          case 'kill-scs':
          case 'stop-scs': {
            const id = rnd.pick([...c.scs.keys()].sort());
            if (busy.has(id)) break;
            busy.add(id);
            log(`${kind} ${id} for ${d} ms`);
            window(kind, d);
            if (kind === 'kill-scs') {
              c.scs.get(id)!.signal('SIGKILL');
              later(d, () => { c.startScs(id); busy.delete(id); });
            } else {
              pauseFor(c.scs.get(id)!.pid, d);
              later(d + 10, () => void busy.delete(id));
            }
            break;
          }
          case 'restart-nats':
          case 'restart-redis': {
            if (busy.has(kind)) break;
            busy.add(kind);
            log(`${kind} after ${d} ms down`);
            window(kind, d);
            const server = kind === 'restart-nats' ? c.nats : c.redis;
            await server.stop();
            later(d, async () => { await server.restart(); busy.delete(kind); });
            break;
          }
        }
      } catch (e) {
        log(`fault ${kind} failed: ${(e as Error).message}`);
      }
    }
    log('faults stop; healing');
    await Promise.all(pending);
    for (const p of proxies.values()) p.restore();
    for (const [h, p] of c.lcas) if (!p.running) c.startLca(h);
    for (const [id, p] of c.scs) if (!p.running) c.startScs(id);
    const healStart = Date.now();
    const bound = 3 * (FAST_TIMING.hostTimeoutMs + FAST_TIMING.leaseMs);
    const violations: string[] = [];
    let recoveredMs: number | null = null;
    try {
      await until('every pair with a primary', async () => {
        const s = await c.status(1000);
        return s.scs.acting === true && s.pairs.every((p) => p.current !== null && p.state !== 'switching');
      }, 60_000, 50);
      recoveredMs = Date.now() - healStart;
      // with identities, no product process may have been refused anything under the faults
      if (o.secure) for (const v of c.permissionViolations()) violations.push(`permissions violation: ${v}`);
      if (recoveredMs > bound) violations.push(`recovery took ${recoveredMs} ms, more than 3 × (hostTimeoutMs + leaseMs) = ${bound} ms`);
    } catch (e) {
      violations.push(`no recovery: ${(e as Error).message}`);
    }
    // ---- the invariants ----
    // the stream's size first: the cluster still runs, so the dump may hold more, never less
    const info = await (await jetstreamManager(c.nc)).streams.info(EVENTS_STREAM);
    const lines = await dumpLog(c.nc);
    const events = lines.flatMap((l) => (l.t === 'event' ? [l] : []));
    const decisions = lines.flatMap((l) => (l.t === 'decision' ? [l] : []));
    const missing = events.findIndex((e, i) => e.seq !== i + 1);
    if (missing >= 0 || events.length < info.state.last_seq || info.state.messages !== info.state.last_seq) {
      violations.push(`HA_EVENTS has gaps: ${info.state.messages} messages stored up to seq ${info.state.last_seq}; read ${events.length}${missing >= 0 ? `, first missing seq ${missing + 1}` : ''}`);
    }
    const timed: { at: bigint; text: string }[] = [];
    // process deaths the LCAs reported bound the acting intervals too
    const recs: Rec[] = [];
    for (const p of pairs) {
      for (const app of [p.primary, p.backup]) {
        const f = join(c.dir, `rec-${app}.jsonl`);
        if (existsSync(f)) recs.push(...readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec));
      }
    }
    const firstSeen = new Map<number, { app: string; t: bigint }>();
    for (const r of recs) if (!firstSeen.has(r.pid) || BigInt(r.monoNs) < firstSeen.get(r.pid)!.t) firstSeen.set(r.pid, { app: r.app, t: BigInt(r.monoNs) });
    for (const e of events) {
      const d = JSON.parse(e.data) as { type?: string; pid?: number; ended?: string[] };
      const t = wallToMono(e.at);
      if (d.type === 'AppExited' && typeof d.pid === 'number') ends.set(d.pid, [...(ends.get(d.pid) ?? []), t]);
      // a new LCA ended what an earlier one left running before its LcaStarted was stored
      if (d.type === 'LcaStarted') for (const [pid, f] of firstSeen) if (d.ended?.includes(f.app) && f.t < t) ends.set(pid, [...(ends.get(pid) ?? []), t]);
    }
    clearInterval(watcher);
    for (const [pid, t] of seenGone) ends.set(pid, [...(ends.get(pid) ?? []), t]); // an upper bound: the earliest known end counts
    const intervals = actingIntervals(recs, ends, pauses, mono());
    for (const p of pairs) {
      const a = intervals.filter((i) => i.app === p.primary);
      const b = intervals.filter((i) => i.app === p.backup);
      for (const x of a) for (const y of b) {
        if (x.from < y.to && y.from < x.to) {
          const from = x.from > y.from ? x.from : y.from;
          timed.push({ at: from, text: `two primaries of ${p.primary}: ${x.app} (pid ${x.pid}) and ${y.app} (pid ${y.pid}) overlap by ${Number((x.to < y.to ? x.to : y.to) - from) / 1e6} ms` });
        }
      }
    }
    // commands carried out only for the incarnation they name
    const running = new Map<string, number>();
    for (const e of events) {
      const d = JSON.parse(e.data) as { type?: string; app?: string; incarnation?: number; command?: string | null };
      if (d.type === 'AppStarted' && d.app) running.set(d.app, e.seq);
      if (d.type === 'AppRoleChanged' && d.app && d.command && running.get(d.app) !== d.incarnation) timed.push({ at: wallToMono(e.at), text: `seq ${e.seq}: ${d.command} carried out for incarnation ${d.incarnation} of ${d.app}, current ${running.get(d.app)}` });
    }
    // a violation is laid at the door of every fault under way when it began, or that ended within the recovery bound before it
    const perKind: Record<string, { faults: number; violations: number }> = {};
    for (const k of kinds) perKind[k] = { faults: counts[k] ?? 0, violations: 0 };
    const reach = BigInt(bound) * 1_000_000n;
    for (const v of timed) {
      const near = [...new Set(windows.filter((w) => w.from <= v.at && v.at <= w.to + reach).map((w) => w.kind))];
      for (const k of near) perKind[k]!.violations++;
      violations.push(`${v.text} (faults near: ${near.join(', ') || 'none'})`);
    }
    const { audit } = await import('@ha/scs');
    const r = audit(events.map((e) => ({ seq: e.seq, at: e.at, subject: e.subject, data: new TextEncoder().encode(e.data) })), decisions);
    for (const m of r.mismatches.slice(0, 5)) violations.push(`replay differs at seq ${m.causeSeq}[${m.index}]`);
    for (const p of c.lcas.values()) if (!alive(p.pid)) log(`note: LCA ${p.name} not running at the end`);
    return {
      seed: o.seed,
      seconds: o.seconds,
      faults: counts,
      perKind,
      violations,
      recoveredMs,
      events: events.length,
      decisions: decisions.length,
      decisionsBeyondLog: r.beyondLog,
      switchovers: decisions.filter((d) => d.effect['kind'] === 'announce').length,
    };
  } finally {
    clearInterval(watcher);
    await Promise.all(pending).catch(() => undefined);
    await c.stop();
    for (const p of proxies.values()) await p.stop();
  }
};

const main = async (): Promise<void> => {
  const arg = (n: string, d: number) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
  if (process.argv.includes('--help')) {
    process.stdout.write('usage: npm run chaos -- [--minutes N] [--seed S] [--scs 2|3] [--pairs N] [--secure]\n\nRuns the whole cluster under seeded faults, then checks the safety invariants; exit 1 on any violation.\n--secure: identities on the bus (hactl secure init), and no permissions violation by any process.\n');
    return;
  }
  const report = await runChaos({ seconds: Math.round(arg('minutes', 1) * 60), seed: arg('seed', 1), scs: arg('scs', 2), pairs: arg('pairs', 2), secure: process.argv.includes('--secure') });
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exitCode = report.violations.length > 0 ? 1 : 0;
};

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`chaos: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  });
}
