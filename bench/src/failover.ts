// `npm run bench`: failover latencies on a real cluster (nats-server, redis-server, 2 SCS, LCAs as
// separate processes), measured from the moment the fault is injected to the moment the
// announcement reaches a plain subscriber of ha.switchover.<pair>. Writes bench/results/latest.json.
//   node bench/dist/failover.js [--trials N] [--host-trials N]
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream } from '@nats-io/jetstream';
import { codec, subjects } from '@ha/events';
import { Cluster, FAST_TIMING, until } from '@ha/test';
import { row, summarize, type Summary } from './stats.js';
import { benchDecider } from './decider.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const progress = (what: string, i: number, n: number) => process.stderr.write(`\r${what}: ${i}/${n}   `);

const killPrimary = async (trials: number): Promise<{ announce: Summary; raw: number[] }> => {
  const c = await Cluster.start({
    hosts: ['host-a', 'host-b'],
    pairs: [{ primary: 'p', backup: 'pb', primaryHost: 'host-a', backupHost: 'host-b' }],
    restart: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const raw: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      progress('SIGKILL primary -> announcement', i, trials);
      const s = await c.waitStatus('pair ok with both members started', (st) => (st.pairs[0]?.state === 'ok' && st.applications.every((a) => a.status === 'started') ? st : undefined));
      const current = s.pairs[0]!.current!;
      const pid = c.app(s, current).pid!;
      // let the restarted member live past maxDelayMs so its back-off resets (not part of the measure)
      await new Promise((r) => setTimeout(r, 120));
      const sw = c.nextSwitchover('p');
      const t0 = process.hrtime.bigint();
      process.kill(pid, 'SIGKILL');
      const a = await sw;
      raw.push(Number(a.receivedAt - t0) / 1e6);
    }
  } finally {
    await c.stop();
  }
  return { announce: summarize(raw), raw };
};

const hostLost = async (trials: number): Promise<{ overhead: Summary; raw: number[] }> => {
  const c = await Cluster.start({
    hosts: ['host-a', 'host-b'],
    pairs: [{ primary: 'h', backup: 'hb', primaryHost: 'host-a', backupHost: 'host-b' }],
    restart: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const raw: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      progress('SIGKILL LCA + apps -> announcement - hostTimeoutMs', i, trials);
      const s = await c.waitStatus('pair ok, hosts up', (st) => (st.pairs[0]?.state === 'ok' && st.hosts.every((h) => h.lca === 'up') && st.applications.every((a) => a.status === 'started') ? st : undefined), 30_000);
      const current = c.app(s, s.pairs[0]!.current!);
      const lca = c.lcas.get(current.host)!;
      const pids = s.applications.filter((a) => a.host === current.host).map((a) => a.pid!);
      const sw = c.nextSwitchover('h', 30_000);
      const t0 = process.hrtime.bigint();
      lca.signal('SIGKILL');
      for (const p of pids) process.kill(p, 'SIGKILL');
      const a = await sw;
      raw.push(Number(a.receivedAt - t0) / 1e6 - FAST_TIMING.hostTimeoutMs);
      await lca.exited;
      c.startLca(current.host);
      await until('host back', async () => (await c.status()).hosts.every((h) => h.lca === 'up'), 30_000);
    }
  } finally {
    await c.stop();
  }
  return { overhead: summarize(raw), raw };
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

const main = async () => {
  const trials = arg('trials', 200);
  const hostTrials = arg('host-trials', 100);
  const hangTrials = arg('hang-trials', 50);
  const manualTrials = arg('manual-trials', 100);
  const takeoverTrials = arg('takeover-trials', 10);
  const started = new Date().toISOString();
  const kill = await killPrimary(trials);
  process.stderr.write('\n');
  const host = await hostLost(hostTrials);
  process.stderr.write('\n');
  const hung = await hang(hangTrials);
  process.stderr.write('\n');
  const man = await manual(manualTrials);
  process.stderr.write('\n');
  const take = await takeover(takeoverTrials);
  process.stderr.write('\n');
  const decider = benchDecider(100, 20_000);
  let commit = 'unknown';
  try { commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const result = {
    started,
    commit,
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    timing: FAST_TIMING,
    figures: {
      'sigkill-primary-to-announcement-ms': kill.announce,
      'host-lost-announcement-minus-hostTimeoutMs-ms': host.overhead,
      'hang-announcement-minus-appTimeoutMs-ms': hung.overhead,
      'manual-switchover-request-to-announcement-ms': man.total,
      'scs-killed-to-new-claim-ms': take.claim,
      'scs-killed-to-first-switchover-after-it-ms': take.firstSwitchover,
      'decider-inputs-per-second': decider,
    },
    raw: { killPrimary: kill.raw, hostLost: host.raw, hang: hung.raw, manual: man.raw, takeover: take.raw },
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/latest.json'), JSON.stringify(result, null, 2));
  process.stdout.write(`commit ${commit}, ${result.machine.cpus} cpus, node ${process.version}, hostTimeoutMs ${FAST_TIMING.hostTimeoutMs}\n`);
  process.stdout.write(row('SIGKILL primary -> announcement', kill.announce) + '\n');
  process.stdout.write(row('SIGKILL LCA+apps -> announcement - hostTimeout', host.overhead) + '\n');
  process.stdout.write(row('SIGSTOP SDK app -> announcement - appTimeout', hung.overhead) + '\n');
  process.stdout.write(row('manual switchover request -> announcement', man.total) + '\n');
  process.stdout.write(row(`SIGKILL active SCS -> new claim (leaseMs ${FAST_TIMING.leaseMs})`, take.claim) + '\n');
  process.stdout.write(row('SIGKILL active SCS -> a switchover after it', take.firstSwitchover) + '\n');
  process.stdout.write(`decider (pure, ${decider.apps} apps in state): ${decider.inputsPerSecond} inputs/s\n`);
  process.stdout.write('written bench/results/latest.json\n');
};

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
