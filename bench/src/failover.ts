// `npm run bench`: failover latencies on a real cluster (nats-server, redis-server, 2 SCS, LCAs as
// separate processes), measured from the moment the fault is injected to the moment the
// announcement reaches a plain subscriber of ha.switchover.<pair>; then decider throughput, projection
// throughput fed from JetStream (projection.ts) and the scale simulator (scale.ts). Writes
// bench/results/latest.json. `--help` lists the parts and their flags; `--only a,b` runs some of them.
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { codec, subjects } from '@ha/events';
import { Cluster, FAST_TIMING, until } from '@ha/test';
import { row, summarize, type Summary } from './stats.js';
import { benchDecider } from './decider.js';
import { runProjection, type ProjectionReport } from './projection.js';
import { runScale, type ScaleReport } from './scale.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const list = (name: string): string[] | null => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? '').split(',').map((x) => x.trim()).filter(Boolean) : null;
};
const progress = (what: string, i: number, n: number) => process.stderr.write(`\r${what}: ${i}/${n}   `);

const killPrimary = async (trials: number): Promise<{ announce: Summary; promoted: Summary; raw: number[]; rawPromoted: number[] }> => {
  const c = await Cluster.start({
    hosts: ['host-a', 'host-b'],
    pairs: [{ primary: 'p', backup: 'pb', primaryHost: 'host-a', backupHost: 'host-b' }],
    restart: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const raw: number[] = [];
  const rawPromoted: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      progress('SIGKILL primary -> announcement', i, trials);
      const s = await c.waitStatus('pair ok with both members started', (st) => (st.pairs[0]?.state === 'ok' && st.applications.every((a) => a.status === 'started') ? st : undefined));
      const current = s.pairs[0]!.current!;
      const pid = c.app(s, current).pid!;
      // let the restarted member live past maxDelayMs so its back-off resets (not part of the measure)
      await new Promise((r) => setTimeout(r, 120));
      // the backup's confirmed promotion: its LCA's AppRoleChanged, as stored
      const backup = current === 'p' ? 'pb' : 'p';
      let promotedAt: bigint | null = null;
      const roles = c.nc.subscribe(subjects.hostEvent(c.app(s, backup).host, 'role'), {
        callback: (_e, m) => {
          const d = m.json<{ app?: string; role?: string }>();
          if (d.app === backup && d.role === 'primary') promotedAt ??= process.hrtime.bigint();
        },
      });
      await c.nc.flush();
      const sw = c.nextSwitchover('p');
      const t0 = process.hrtime.bigint();
      process.kill(pid, 'SIGKILL');
      const a = await sw;
      roles.unsubscribe();
      raw.push(Number(a.receivedAt - t0) / 1e6);
      if (promotedAt !== null) rawPromoted.push(Number((promotedAt as bigint) - t0) / 1e6);
    }
  } finally {
    await c.stop();
  }
  return { announce: summarize(raw), promoted: summarize(rawPromoted), raw, rawPromoted };
};

/**
 * SIGKILL of an LCA and its applications, with `pairs` primaries on that host: the first
 * announcement and the last (every pair switched over), each minus hostTimeoutMs.
 */
const hostLost = async (trials: number, pairs: number): Promise<{ overhead: Summary; all: Summary; raw: number[]; rawAll: number[] }> => {
  const c = await Cluster.start({
    hosts: ['host-a', 'host-b'],
    pairs: Array.from({ length: pairs }, (_, i) => ({ primary: `h${i}`, backup: `h${i}b`, primaryHost: 'host-a', backupHost: 'host-b' })),
    restart: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const raw: number[] = [];
  const rawAll: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      progress(`SIGKILL LCA + apps (${pairs} primaries) -> announcements - hostTimeoutMs`, i, trials);
      // every primary on one host (they all move together, so they stay together)
      const s = await c.waitStatus('pairs ok on one host, hosts up', (st) => {
        if (!(st.pairs.every((p) => p.state === 'ok') && st.hosts.every((h) => h.lca === 'up') && st.applications.every((a) => a.status === 'started'))) return undefined;
        const hosts = new Set(st.pairs.map((p) => c.app(st, p.current!).host));
        return hosts.size === 1 ? st : undefined;
      }, 30_000);
      const host = c.app(s, s.pairs[0]!.current!).host;
      const lca = c.lcas.get(host)!;
      const pids = s.applications.filter((a) => a.host === host).map((a) => a.pid!);
      const sws = s.pairs.map((p) => c.nextSwitchover(p.id, 30_000));
      const t0 = process.hrtime.bigint();
      lca.signal('SIGKILL');
      for (const p of pids) process.kill(p, 'SIGKILL');
      const at = (await Promise.all(sws)).map((a) => Number(a.receivedAt - t0) / 1e6 - FAST_TIMING.hostTimeoutMs);
      raw.push(Math.min(...at));
      rawAll.push(Math.max(...at));
      await lca.exited;
      c.startLca(host);
      await until('host back', async () => (await c.status()).hosts.every((h) => h.lca === 'up'), 30_000);
    }
  } finally {
    await c.stop();
  }
  return { overhead: summarize(raw), all: summarize(rawAll), raw, rawAll };
};

const COUNTER = join(ROOT, 'examples/counter-server/dist/main.js');
const sdkCluster = () =>
  Cluster.start({
    hosts: ['host-a', 'host-b'],
    pairs: [{ primary: 's', backup: 'sb', primaryHost: 'host-a', backupHost: 'host-b' }],
    command: ['node', COUNTER, '--port', '{port}'],
    app: () => ({ probe: { kind: 'sdk' } }),
    restart: { initialDelayMs: 20, maxDelayMs: 100 },
  });

/** SIGSTOP of an SDK primary (a hang) to the announcement, minus appTimeoutMs. */
const hang = async (trials: number): Promise<{ overhead: Summary; raw: number[] }> => {
  const c = await sdkCluster();
  const raw: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      progress('SIGSTOP SDK primary -> announcement - appTimeoutMs', i, trials);
      const s = await c.waitStatus('pair ok', (st) => (st.pairs[0]?.state === 'ok' && st.applications.every((a) => a.status === 'started') ? st : undefined), 30_000);
      const pid = c.app(s, s.pairs[0]!.current!).pid!;
      await new Promise((r) => setTimeout(r, 120)); // let the restarted member's back-off reset (not measured)
      const sw = c.nextSwitchover('s', 30_000);
      const t0 = process.hrtime.bigint();
      process.kill(pid, 'SIGSTOP');
      const a = await sw;
      raw.push(Number(a.receivedAt - t0) / 1e6 - FAST_TIMING.appTimeoutMs);
    }
  } finally {
    await c.stop();
  }
  return { overhead: summarize(raw), raw };
};

/** A manual switchover: operator request stored to the announcement (demote confirmed, then promote). */
const manual = async (trials: number): Promise<{ total: Summary; raw: number[] }> => {
  const c = await sdkCluster();
  const raw: number[] = [];
  const js = jetstream(c.nc);
  try {
    for (let i = 0; i < trials; i++) {
      progress('manual switchover request -> announcement', i, trials);
      await c.waitStatus('pair ok', (st) => st.pairs[0]?.state === 'ok' && st.applications.every((a) => a.status === 'started'), 30_000);
      const got = new Map<number, bigint>();
      const sub = c.nc.subscribe(subjects.switchover('s'), { callback: (_e, m) => { got.set((m.json<{ causeSeq: number }>()).causeSeq, process.hrtime.bigint()); } });
      const t0 = process.hrtime.bigint();
      const pa = await js.publish(subjects.operator('switchover'), codec.encode({ type: 'SwitchoverRequested', v: 1, pair: 's', requestId: `bench-${i}`, by: 'bench' }));
      const at = await until('announcement', () => got.get(pa.seq), 30_000, 1);
      sub.unsubscribe();
      raw.push(Number(at - t0) / 1e6);
    }
  } finally {
    await c.stop();
  }
  return { total: summarize(raw), raw };
};

/** SIGKILL of the active SCS: to the new epoch's claim, and to the first switchover after it. */
const takeover = async (trials: number): Promise<{ claim: Summary; firstSwitchover: Summary; raw: { claim: number[]; first: number[] } }> => {
  const c = await Cluster.start({
    hosts: ['host-a', 'host-b'],
    pairs: [{ primary: 't', backup: 'tb', primaryHost: 'host-a', backupHost: 'host-b' }],
    restart: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const claim: number[] = [];
  const first: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      progress('SIGKILL active SCS -> new claim / first switchover', i, trials);
      const s = await c.waitStatus('steady', (st) => (st.scs.acting && st.pairs[0]?.state === 'ok' && st.applications.every((a) => a.status === 'started') && [...c.scs.values()].every((p) => p.running) ? st : undefined), 30_000);
      const old = s.scs.active!;
      const t0 = process.hrtime.bigint();
      const wall0 = Date.now();
      c.scs.get(old)!.signal('SIGKILL');
      const next = await c.waitStatus('new active', (st) => (st.scs.active !== old && st.scs.acting ? st : undefined), 30_000);
      const claimAt = (await c.events()).find((e) => e.seq === next.scs.epoch)!.at;
      claim.push(claimAt - wall0);
      const sw = c.nextSwitchover('t', 30_000);
      process.kill(c.app(next, next.pairs[0]!.current!).pid!, 'SIGKILL');
      first.push(Number((await sw).receivedAt - t0) / 1e6);
      await c.scs.get(old)!.exited;
      c.startScs(old);
    }
  } finally {
    await c.stop();
  }
  return { claim: summarize(claim), firstSwitchover: summarize(first), raw: { claim, first } };
};

const PARTS = ['kill', 'host-lost', 'hang', 'manual', 'takeover', 'decider', 'projection', 'scale'] as const;
type Part = (typeof PARTS)[number];

const HELP = `usage: npm run bench -- [--only PART,...] [--skip PART,...] [flags]

Runs the benchmark parts (all by default, about 20 minutes on 2 cores) and writes
bench/results/latest.json; a run of some parts replaces only their figures there (each part records
when and at which commit it was measured). Timings are reported as percentiles, never asserted.

parts:
  kill         SIGKILL primary -> announcement                    --trials N (200)
  host-lost    SIGKILL LCA + apps -> announcement - hostTimeoutMs --host-trials N (100)
               with --host-pairs N (5) primaries on the host: the first and the last announcement
  hang         SIGSTOP SDK primary -> announcement - appTimeoutMs --hang-trials N (50)
  manual       manual switchover request -> announcement          --manual-trials N (100)
  takeover     SIGKILL active SCS -> new claim / next switchover  --takeover-trials N (10)
  decider      pure decider inputs/s with 100, 1,000 and 10,000 hosts in the state (200,000 inputs each)
  projection   HA_EVENTS log -> plain read vs replay (events/s, ratio), a standby SCS catching up
               --projection-hosts N (1000) --projection-events M (100000) --projection-rounds R (2)
  scale        simulated hosts against a real SCS: CPU per 1,000 heartbeats, RSS, decision latency,
               false host-lost  --scale-hosts N,... (1000,10000) --scale-seconds S (60)
               --scale-setup-timeout S (900) --scale-lease-ms MS (2000). The 10,000 hosts take about 5
               minutes (their setup, 100,000 applications brought up, 1.5 to 2.5 of them)

Each part also runs alone: node bench/dist/projection.js --help, node bench/dist/scale.js --help,
node bench/dist/decider.js.
`;

type PartRun = { started: string; commit: string };

const main = async () => {
  if (process.argv.includes('--help')) {
    process.stdout.write(HELP);
    return;
  }
  const only = list('only');
  const skip = list('skip') ?? [];
  for (const p of [...(only ?? []), ...skip]) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`unknown part ${p}; parts: ${PARTS.join(', ')}`);
  const run = (p: Part) => (only === null || only.includes(p)) && !skip.includes(p);
  const trials = arg('trials', 200);
  const hostTrials = arg('host-trials', 100);
  const hangTrials = arg('hang-trials', 50);
  const manualTrials = arg('manual-trials', 100);
  const takeoverTrials = arg('takeover-trials', 10);
  const started = new Date().toISOString();
  let commit = 'unknown';
  try { commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const kill = run('kill') ? await killPrimary(trials) : null;
  if (kill) process.stderr.write('\n');
  const host = run('host-lost') ? await hostLost(hostTrials, arg('host-pairs', 5)) : null;
  if (host) process.stderr.write('\n');
  const hung = run('hang') ? await hang(hangTrials) : null;
  if (hung) process.stderr.write('\n');
  const man = run('manual') ? await manual(manualTrials) : null;
  if (man) process.stderr.write('\n');
  const take = run('takeover') ? await takeover(takeoverTrials) : null;
  if (take) process.stderr.write('\n');
  // the target is stated at 10,000 hosts (100,000 applications) in the state; smaller states for comparison
  const decider = run('decider') ? [100, 1_000, 10_000].map((h) => benchDecider(h, 200_000)) : null;
  const projection: ProjectionReport | null = run('projection')
    ? await runProjection({ hosts: arg('projection-hosts', 1000), events: arg('projection-events', 100_000), rounds: arg('projection-rounds', 2), seed: 1, batch: 1000 })
    : null;
  const scale: ScaleReport[] = [];
  if (run('scale')) {
    for (const n of (list('scale-hosts') ?? ['1000', '10000']).map(Number)) {
      const leaseMs = arg('scale-lease-ms', 0);
      scale.push(await runScale({ hosts: n, seconds: arg('scale-seconds', 60), setupTimeoutSeconds: arg('scale-setup-timeout', 900), ...(leaseMs > 0 ? { leaseMs } : {}) }));
    }
  }

  // figures of the parts not run now are kept from the previous file
  const file = join(ROOT, 'bench/results/latest.json');
  type Result = { started: string; commit: string; machine: unknown; timing: unknown; parts: Partial<Record<Part, PartRun>>; figures: Record<string, unknown>; raw: Record<string, unknown>; projection?: unknown; scale?: unknown };
  let prev: Partial<Result> = {};
  if (only !== null || skip.length > 0) {
    try { if (existsSync(file)) prev = JSON.parse(readFileSync(file, 'utf8')) as Partial<Result>; } catch { /* start afresh */ }
  }
  const now: PartRun = { started, commit };
  const result: Result = {
    started,
    commit,
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    timing: FAST_TIMING,
    parts: { ...prev.parts },
    figures: { ...prev.figures },
    raw: { ...prev.raw },
    ...(prev.projection !== undefined ? { projection: prev.projection } : {}),
    ...(prev.scale !== undefined ? { scale: prev.scale } : {}),
  };
  if (kill) {
    result.parts.kill = now;
    result.figures['sigkill-primary-to-announcement-ms'] = kill.announce;
    result.figures['sigkill-primary-to-backup-promotion-confirmed-ms'] = kill.promoted;
    result.raw['killPrimary'] = kill.raw;
  }
  if (host) {
    result.parts['host-lost'] = now;
    result.figures['host-lost-announcement-minus-hostTimeoutMs-ms'] = host.overhead;
    result.figures['host-lost-every-pair-announced-minus-hostTimeoutMs-ms'] = host.all;
    result.raw['hostLost'] = host.raw;
    result.raw['hostLostAll'] = host.rawAll;
  }
  if (hung) {
    result.parts.hang = now;
    result.figures['hang-announcement-minus-appTimeoutMs-ms'] = hung.overhead;
    result.raw['hang'] = hung.raw;
  }
  if (man) {
    result.parts.manual = now;
    result.figures['manual-switchover-request-to-announcement-ms'] = man.total;
    result.raw['manual'] = man.raw;
  }
  if (take) {
    result.parts.takeover = now;
    result.figures['scs-killed-to-new-claim-ms'] = take.claim;
    result.figures['scs-killed-to-first-switchover-after-it-ms'] = take.firstSwitchover;
    result.raw['takeover'] = take.raw;
  }
  if (decider) {
    result.parts.decider = now;
    result.figures['decider-inputs-per-second'] = decider;
  }
  if (projection) {
    result.parts.projection = now;
    result.figures['projection-plain-read-events-per-second'] = projection.plain.eventsPerSecond;
    result.figures['projection-replay-events-per-second'] = projection.replay.eventsPerSecond;
    result.figures['projection-replay-to-plain-read-ratio'] = projection.ratio;
    result.figures['projection-pipelined-replay-events-per-second'] = projection.pipelined.eventsPerSecond;
    result.figures['projection-pipelined-replay-to-plain-read-ratio'] = projection.pipelinedRatio;
    result.figures['projection-pipelined-replay-batched-to-plain-read-ratio'] = projection.batched.pipelinedRatio;
    result.figures['projection-standby-scs-catch-up-events-per-second'] = projection.standby.eventsPerSecond;
    result.projection = projection;
  }
  if (scale.length > 0) {
    result.parts.scale = now;
    for (const r of scale) {
      result.figures[`scale-${r.hosts}-hosts${r.timing.leaseMs !== 2000 ? `-leaseMs-${r.timing.leaseMs}` : ''}`] = {
        scsCpuSecondsPer1000Heartbeats: r.scs.cpuSecondsPer1000Heartbeats,
        scsRssMiB: r.scs.rssMiB,
        scsHwmMiB: r.scs.hwmMiB,
        decisionLatencyMs: r.decisions.latencyMs,
        falseHostLost: r.hostLost.falseHostLost,
        hostLost: r.hostLost.total,
        heartbeatsStoredPerSecond: r.heartbeats.stored,
        heartbeatsTargetPerSecond: r.heartbeats.target,
        steady: r.setup.steady,
      };
    }
    // one report per (hosts, leaseMs): those not measured now are kept
    const key = (r: { hosts: number; timing?: { leaseMs?: number } }) => `${r.hosts}:${r.timing?.leaseMs ?? 2000}`;
    const fresh = scale.map((r) => ({ ...r, measured: now }));
    const kept = Array.isArray(prev.scale) ? (prev.scale as { hosts: number; timing?: { leaseMs?: number } }[]).filter((r) => !fresh.some((f) => key(f) === key(r))) : [];
    result.scale = [...kept, ...fresh].sort((a, b) => a.hosts - b.hosts);
  }
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(file, JSON.stringify(result, null, 2));
  const out = (line: string) => process.stdout.write(line + '\n');
  out(`commit ${commit}, ${cpus().length} cpus, node ${process.version}, hostTimeoutMs ${FAST_TIMING.hostTimeoutMs}`);
  if (kill) out(row('SIGKILL primary -> announcement', kill.announce));
  if (kill) out(row('SIGKILL primary -> backup promotion confirmed', kill.promoted));
  if (host) out(row('SIGKILL LCA+apps -> announcement - hostTimeout', host.overhead));
  if (host) out(row('  ... -> every pair of the host announced', host.all));
  if (hung) out(row('SIGSTOP SDK app -> announcement - appTimeout', hung.overhead));
  if (man) out(row('manual switchover request -> announcement', man.total));
  if (take) out(row(`SIGKILL active SCS -> new claim (leaseMs ${FAST_TIMING.leaseMs})`, take.claim));
  if (take) out(row('SIGKILL active SCS -> a switchover after it', take.firstSwitchover));
  for (const d of decider ?? []) out(`decider (pure, ${d.hosts} hosts, ${d.apps} apps in state): ${d.inputsPerSecond} inputs/s after a warm-up of ${d.inputs} (target at 10,000 hosts >= 500,000); warm-up window ${d.coldInputsPerSecond}/s`);
  if (projection) {
    const p = projection;
    out(`projection (${p.hosts} hosts, ${p.apps} apps, ${p.events} inputs, ${(p.logBytes / 1e6).toFixed(0)} MB): plain read ${p.plain.eventsPerSecond} events/s, pipelined replay ${p.pipelined.eventsPerSecond} events/s, ratio ${p.pipelinedRatio} (target >= 0.8); single-thread replay ${p.replay.eventsPerSecond} events/s, ratio ${p.ratio}`);
    out(`  with consume({ max_messages: ${p.batched.maxMessages} }): plain ${p.batched.plain.eventsPerSecond}/s, single-thread replay ${p.batched.replay.eventsPerSecond}/s, ratio ${p.batched.ratio}; pipelined ${p.batched.pipelined.eventsPerSecond}/s, ${p.batched.pipelinedRatio} of the default plain read`);
    out(`  per event in memory: JSON.parse ${p.inMemory.jsonParseUs} µs, zod ${p.inMemory.zodUs} µs (compiled ${p.inMemory.compiledZodUs} µs), parseInput ${p.inMemory.parseInputUs} µs, transition ${p.inMemory.transitionUs} µs`);
    out(`  standby SCS process catching up from seq 1: ${p.standby.eventsPerSecond} events/s (${p.standby.catchUpSeconds} s; RSS ${p.standby.rssMiB} MiB)`);
  }
  for (const r of scale) {
    out(`scale ${r.hosts} hosts (${r.apps} apps, leaseMs ${r.timing.leaseMs}, ${r.seconds} s window${r.setup.steady ? '' : ', NOT STEADY'}, setup ${r.setup.seconds} s): SCS ${r.scs.cpuSecondsPer1000Heartbeats} CPU s per 1,000 heartbeats (${r.scs.cores} cores), RSS ${r.scs.rssMiB} MiB (peak ${r.scs.hwmMiB}), false host-lost ${r.hostLost.falseHostLost} (target 0), heartbeats stored ${r.heartbeats.stored}/${r.heartbeats.target} per s`);
    out(row(`  unavailable primary -> demote (${r.decisions.missing} missing)`, r.decisions.latencyMs));
    out(`  SCS log: ${r.scs.claims} claims, ${r.scs.stepDowns} step-downs, ${r.scs.effectsDropped} effects dropped, ${r.scs.promotionTimeouts} promotion timeouts, ${r.scs.feedBehind} lost verdicts withdrawn (feed behind the store); projection ${r.scs.lagAtEnd} inputs behind at the end`);
  }
  out('written bench/results/latest.json');
};

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
