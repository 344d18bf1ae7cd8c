// Scale simulator (issue 4, part 3): N simulated hosts against a real SCS process
// (apps/scs/bin/scs.js) on a harness-started nats-server and redis-server.
//
// Every host heartbeats once per second (heartbeatMs 1000, hostTimeoutMs 3000), spread evenly over
// the second, and runs 10 applications (5 pairs per host, the backups on the next host). The
// simulated LCAs publish LcaStarted and AppStarted with the real schemas and answer every command of
// the SCS as a real LCA would (fleet.ts), so that every pair gets its primary. Then, over the
// measured window, a steady trickle of status changes: Service Unavailable on primaries (each a
// graceful switchover: demote, then promote) and on backups, each back to started after 5 s.
// Reported: SCS CPU seconds per 1,000 stored heartbeats (/proc/<pid>/stat over the window), SCS
// VmRSS/VmHWM, decision latency (AppStatusChanged service-unavailable on a primary published -> the
// demote command for it received on ha.cmd.<host>.<app>), HostLost events in HA_EVENTS (all hosts
// keep heartbeating, so every one is false unless the simulator itself fell silent), and the
// simulator's own achieved heartbeat rate.
//   node bench/dist/scale.js --hosts N --seconds S   (see --help)
import { createReadStream, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ensureStreams } from '@ha/bus';
import { codec, EVENTS_STREAM, HEARTBEATS_STREAM, parseCommand, subjects, type Timing } from '@ha/events';
import { BIN, NatsServer, RedisServer, freePort, prng, spawnLogged, type Proc } from '@ha/test';
import { Fleet, fleetConfig, type Outgoing, type SimApp } from './fleet.js';
import { BENCH_MAX_PAYLOAD, httpJson } from './projection.js';
import { cpuSeconds, memoryMiB } from './procstat.js';
import { summarize, type Summary } from './stats.js';

export const SCALE_TIMING: Partial<Timing> = { heartbeatMs: 1000, hostTimeoutMs: 3000 };

export type ScaleOptions = {
  hosts: number;
  /** Length of the measured window. */
  seconds: number;
  /** The cluster's leaseMs (default 2000, the product's); scsTimeoutMs stays 1000. */
  leaseMs?: number;
  /** Status changes per second during the window (default hosts / 100, at least 2). */
  changesPerSecond?: number;
  /** Bound on reaching the steady state (every pair with its primary, the SCS caught up). */
  setupTimeoutSeconds?: number;
  /** `ack`: JetStream publishes awaiting their acks, as the LCA does; `core`: plain publishes, stored all the same. */
  heartbeatMode?: 'ack' | 'core';
  /** nats-server max_payload; the ConfigApplied of 100,000 applications is about 19 MB. */
  maxPayload?: number;
  seed?: number;
  logLevel?: string;
  /** Run the SCS with `--cpu-prof` into this directory (the report gives the window in CLOCK_MONOTONIC µs, as the profile's timestamps). */
  scsCpuProf?: string;
  /** Write a heap snapshot of the SCS into this directory at the end of the window. */
  scsHeapSnapshot?: string;
  keep?: boolean;
  log?: (s: string) => void;
};

export type ScaleReport = {
  hosts: number;
  apps: number;
  pairs: number;
  seconds: number;
  timing: Timing;
  configAppliedBytes: number;
  maxPayload: number;
  setup: { seconds: number; steady: boolean; pairsWithPrimary: number; events: number; note: string | null };
  scs: {
    cpuSecondsPer1000Heartbeats: number;
    cpuSeconds: number;
    /** CPU seconds per second of the window: the share of one core. */
    cores: number;
    rssMiB: number;
    rssMaxInWindowMiB: number;
    hwmMiB: number;
    memoryMiB: Record<string, number> | null;
    /** Inputs the SCS was behind the log at the end of the window. */
    lagAtEnd: number;
    malformed: number;
    /** SCS log lines: lost verdicts withdrawn because the store held a later heartbeat; feeds suspected silent. */
    feedBehind: number;
    feedSuspected: number;
    /** Over the whole run, from its log: claims, step-downs (lease lost), effects dropped for want of the lease, promotions timed out. */
    claims: number;
    stepDowns: number;
    effectsDropped: number;
    promotionTimeouts: number;
  };
  heartbeats: {
    target: number;
    /** Heartbeats stored per second during the window (HA_HEARTBEATS sequence), and as the simulator counted them. */
    stored: number;
    simulatorPerSecond: number;
    skippedInFlight: number;
    lateSlots: number;
    failed: number;
    mode: 'ack' | 'core';
    /** Longest gap between two stored heartbeats of one host, over the whole run (ms). */
    maxGapMs: number;
  };
  decisions: { latencyMs: Summary; missing: number; what: string };
  trickle: { changesPerSecond: number; primaries: number; backups: number; restored: number; eventsPerSecond: number };
  hostLost: { total: number; inWindow: number; falseHostLost: number; hostReturned: number };
  commands: Record<string, number>;
  refused: Record<string, number>;
  simulator: { cpuSeconds: number; cores: number };
  natsServer: { cpuSeconds: number; cores: number; rssMiB: number };
  dir: string | null;
  /** The window in CLOCK_MONOTONIC microseconds (to cut a CPU profile of the SCS to it). */
  monoWindowUs: [number, number];
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Signals the SCS (started with --heapsnapshot-signal) and waits until the snapshot file is complete. */
const heapSnapshot = async (scs: Proc, dir: string, log: (s: string) => void): Promise<void> => {
  const before = new Set(readdirSync(dir));
  process.kill(scs.pid, 'SIGUSR2');
  log('writing a heap snapshot of the SCS');
  let size = -1;
  for (let i = 0; i < 600; i++) {
    await sleep(1000);
    const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot') && !before.has(n));
    if (!f) continue;
    const now = statSync(join(dir, f)).size;
    if (now === size && now > 0) {
      log(`heap snapshot: ${join(dir, f)} (${Math.round(now / 2 ** 20)} MiB)`);
      return;
    }
    size = now;
  }
};
const now = () => performance.now();
const r2 = (x: number) => Math.round(x * 100) / 100;

/** Publishes events of the simulated LCAs in order on one connection (JetStream stores them in that order). */
class EventPublisher {
  inflight = 0;
  failed = 0;
  published = 0;
  constructor(
    private readonly js: JetStreamClient,
    private readonly fleet: Fleet,
  ) {}

  publish(o: Outgoing): Promise<void> {
    this.inflight++;
    return this.js
      .publish(o.subject, codec.encode(o.event), { msgID: o.msgID, timeout: 30_000 })
      .then((pa) => {
        this.published++;
        this.fleet.stored(o, pa.seq);
      })
      .catch(() => {
        this.failed++;
      })
      .finally(() => {
        this.inflight--;
      });
  }

  /** Publishes all of them with at most `window` in flight. */
  async all(items: Iterable<Outgoing>, window = 1000): Promise<void> {
    let batch: Promise<void>[] = [];
    for (const o of items) {
      batch.push(this.publish(o));
      if (batch.length >= window) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
  }
}

/**
 * One heartbeat per host per period, hosts spread over 10 ms slots. In `ack` mode each is a JetStream
 * publish whose ack is awaited, as the LCA's heartbeat loop does, and a beat whose previous one is
 * still unanswered is skipped, never queued; but the acks come back on one wildcard reply subject
 * (`<inbox>.<host index>`) instead of one request, promise and timer each, which costs the simulator
 * about a third of the CPU of `js.publish` at 10,000 hosts. `core`: plain publishes, stored all the same.
 */
export class HeartbeatSim {
  static readonly SLOT_MS = 10;
  stored = 0;
  failed = 0;
  skippedInFlight = 0;
  lateSlots = 0;
  /** Send time of the beat awaiting its ack (0: none). */
  readonly #sentAt: Float64Array;
  readonly #lastStored: Float64Array;
  readonly #maxGap: Float64Array;
  readonly #inbox = createInbox();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly fleet: Fleet,
    private readonly nc: NatsConnection,
    private readonly periodMs: number,
    private readonly mode: 'ack' | 'core',
  ) {
    const n = fleet.hosts.length;
    this.#sentAt = new Float64Array(n);
    this.#lastStored = new Float64Array(n);
    this.#maxGap = new Float64Array(n);
  }

  maxGapOf(index: number): number {
    return this.#maxGap[index] ?? 0;
  }
  get maxGap(): number {
    return this.#maxGap.reduce((a, b) => Math.max(a, b), 0);
  }

  start(): void {
    if (this.mode === 'ack') {
      const prefix = this.#inbox.length + 1;
      this.nc.subscribe(`${this.#inbox}.*`, {
        callback: (_e, m) => {
          const i = Number(m.subject.slice(prefix));
          if (!(this.#sentAt[i]! > 0)) return; // answered after it was given up
          this.#sentAt[i] = 0;
          // a PubAck is {"stream":...,"seq":...}; an error {"error":{...}}
          if (m.data[2] === 0x65 /* e */) this.failed++;
          else this.#storedAt(i);
        },
      });
    }
    const slots = Math.max(1, Math.round(this.periodMs / HeartbeatSim.SLOT_MS));
    const start = now();
    let k = 0;
    const tick = () => {
      if (this.#stopped) return;
      const due = Math.floor((now() - start) / HeartbeatSim.SLOT_MS);
      if (due - k >= slots) {
        // more than a whole period behind: those beats are lost, as a frozen LCA's would be
        this.lateSlots += due - k - slots + 1;
        k = due - slots + 1;
      }
      for (; k <= due; k++) this.#slot(k % slots, slots);
      this.#timer = setTimeout(tick, Math.max(0, start + k * HeartbeatSim.SLOT_MS - now()));
    };
    tick();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #slot(s: number, slots: number): void {
    const hosts = this.fleet.hosts;
    for (let i = s; i < hosts.length; i += slots) this.#beat(i);
  }

  #storedAt(i: number): void {
    const t = now();
    const last = this.#lastStored[i]!;
    if (last > 0 && t - last > this.#maxGap[i]!) this.#maxGap[i] = t - last;
    this.#lastStored[i] = t;
    this.stored++;
  }

  #beat(i: number): void {
    const host = this.fleet.hosts[i]!;
    const sent = this.#sentAt[i]!;
    const t = now();
    if (sent > 0) {
      // the LCA's heartbeat loop skips a tick while the previous heartbeat is in flight (its timeout: 2 periods)
      if (t - sent < this.periodMs * 2) {
        this.skippedInFlight++;
        return;
      }
      this.failed++;
    }
    const data = codec.encode(this.fleet.heartbeat(host));
    const subject = subjects.heartbeat(host.id);
    if (this.mode === 'core') {
      this.nc.publish(subject, data);
      this.#storedAt(i);
      return;
    }
    this.#sentAt[i] = t;
    this.nc.publish(subject, data, { reply: `${this.#inbox}.${i}` });
  }
}

/** How many lines of `file` contain each needle (the SCS's log can pass the size of a string at 10,000 hosts). */
const countInLog = async <K extends string>(file: string, needles: Record<K, string>): Promise<Record<K, number>> => {
  const counts = Object.fromEntries(Object.keys(needles).map((k) => [k, 0])) as Record<K, number>;
  const entries = Object.entries(needles) as [K, string][];
  try {
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      for (const [k, n] of entries) if (line.includes(n)) counts[k]++;
    }
  } catch {
    /* no log */
  }
  return counts;
};

/** HostLost and HostReturned stored in HA_EVENTS (subject ha.evt.scs.obs.<host>), with their sequences. */
const observations = async (nc: NatsConnection, jsm: JetStreamManager): Promise<{ seq: number; type: string; host: string }[]> => {
  const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: 'ha.evt.scs.obs.>' });
  const total = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  if (total === 0) return [];
  const c = await jetstream(nc).consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All, filter_subjects: 'ha.evt.scs.obs.>' });
  const msgs = await c.consume();
  const out: { seq: number; type: string; host: string }[] = [];
  for await (const m of msgs) {
    const d = m.json<{ type?: string; host?: string }>();
    out.push({ seq: m.seq, type: d.type ?? '?', host: d.host ?? '?' });
    if (out.length >= total) break;
  }
  await msgs.close();
  return out;
};

export const runScale = async (o: ScaleOptions): Promise<ScaleReport> => {
  const log = o.log ?? ((s: string) => process.stderr.write(`scale: ${s}\n`));
  const mode = o.heartbeatMode ?? 'ack';
  const maxPayload = o.maxPayload ?? BENCH_MAX_PAYLOAD;
  const changesPerSecond = o.changesPerSecond ?? Math.max(2, o.hosts / 100);
  const setupTimeoutMs = (o.setupTimeoutSeconds ?? 900) * 1000;
  const rnd = prng(o.seed ?? 1);
  const dir = mkdtempSync(join(tmpdir(), `ha-bench-scale-${o.hosts}-`));
  const config = fleetConfig(o.hosts, { ...SCALE_TIMING, ...(o.leaseMs ? { leaseMs: o.leaseMs } : {}) });
  const configPath = join(dir, 'cluster.json');
  writeFileSync(configPath, JSON.stringify(config));
  const configAppliedBytes = codec.encode({ type: 'ConfigApplied', v: 1, epoch: 1, scs: 'scs-1', config }).length;
  log(`${o.hosts} hosts, ${config.applications.length} applications; ConfigApplied ${(configAppliedBytes / 1e6).toFixed(1)} MB, nats-server max_payload ${(maxPayload / 2 ** 20).toFixed(0)} MiB; logs in ${dir}`);
  const [nats, redis] = await Promise.all([NatsServer.start(dir, { maxPayload }), RedisServer.start(dir)]);
  const fleet = new Fleet(config);
  let scs: Proc | undefined;
  let ncHb: NatsConnection | undefined;
  let ncEv: NatsConnection | undefined;
  let hb: HeartbeatSim | undefined;
  let trickle: NodeJS.Timeout | undefined;
  let ok = false;
  try {
    ncHb = await connect({ servers: nats.url, name: 'sim-heartbeats', maxReconnectAttempts: -1 });
    ncEv = await connect({ servers: nats.url, name: 'sim-events', maxReconnectAttempts: -1 });
    const jsm = await ensureStreams(ncEv);
    const js = jetstream(ncEv);
    const events = new EventPublisher(js, fleet);

    // ---- commands: answered as a real LCA would; a demote of a measured primary ends its measure ----
    const commands: Record<string, number> = {};
    const seen = new Set<string>();
    const pending = new Map<string, { t0: number; incarnation: number }>();
    const latencies: number[] = [];
    let measuring = false;
    ncEv.subscribe(subjects.commandsAll, {
      callback: (_e, m) => {
        const t = now();
        const p = parseCommand(m.data);
        if (!p.ok) {
          commands['malformed'] = (commands['malformed'] ?? 0) + 1;
          return;
        }
        const cmd = p.value;
        if (seen.has(cmd.id)) return; // a republished command, as a real LCA's #seen
        seen.add(cmd.id);
        if (seen.size > 100_000) seen.delete(seen.values().next().value!);
        commands[cmd.action] = (commands[cmd.action] ?? 0) + 1;
        const w = pending.get(cmd.app);
        if (cmd.action === 'demote' && w && w.incarnation === cmd.incarnation) {
          if (measuring) latencies.push(t - w.t0);
          pending.delete(cmd.app);
        }
        // handled after the acks that arrived with it, as the LCA's consumer loop does (a promote
        // that overtakes the ack of its AppStarted is refused: 'starting')
        setImmediate(() => {
          const answer = fleet.onCommand(cmd);
          if (answer) void events.publish(answer);
        });
      },
    });

    // ---- heartbeats first: the SCS judges every configured host from its claim on ----
    hb = new HeartbeatSim(fleet, ncHb, SCALE_TIMING.heartbeatMs!, mode);
    hb.start();
    const httpPort = await freePort();
    const env = { HA_NATS_URL: nats.url, HA_REDIS_URL: redis.url, HA_LOG_LEVEL: o.logLevel ?? 'info' };
    const setupStart = now();
    const prof = [
      ...(o.scsCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${o.scsCpuProf}`] : []), // not allowed in NODE_OPTIONS
      ...(o.scsHeapSnapshot ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${o.scsHeapSnapshot}`] : []),
    ];
    scs = spawnLogged('scs-1', process.execPath, [...prof, BIN.scs, '--id', 'scs-1', '--config', configPath, '--http', `127.0.0.1:${httpPort}`], join(dir, 'scs-1.log'), env);
    const healthz = async () => httpJson(`http://127.0.0.1:${httpPort}/healthz`, 5000);
    const lastEventSeq = async () => (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
    const waitFor = async (what: string, f: () => Promise<boolean>, everyMs = 250) => {
      const end = setupStart + setupTimeoutMs;
      for (;;) {
        if (!scs!.running) throw new Error(`the SCS exited during setup; see ${scs!.logFile}`);
        if (await f().catch(() => false)) return true;
        if (now() > end) {
          log(`setup: gave up waiting for ${what} after ${Math.round((now() - setupStart) / 1000)} s`);
          return false;
        }
        await sleep(everyMs);
      }
    };
    // the LCAs start: LcaStarted (an SCS claims only once it has read a non-empty log)
    await events.all(fleet.hosts.map((h) => fleet.lcaStarted(h)));
    log(`setup: ${o.hosts} LcaStarted stored (${events.failed} failed)`);
    let steady = await waitFor('the SCS to claim and store the configuration', async () => {
      const h = await healthz();
      if (h['role'] !== 'active') return false;
      const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: subjects.config });
      return Object.keys(info.state.subjects ?? {}).length > 0 && Number(h['lastSeq']) >= info.state.last_seq;
    });
    if (!steady) throw new Error(`the SCS did not claim and store the configuration within ${o.setupTimeoutSeconds ?? 900} s; see ${scs.logFile}`);
    log(`setup: SCS active with its configuration after ${((now() - setupStart) / 1000).toFixed(1)} s`);
    {
      // they start their applications once the configuration is known
      const apps = function* () {
        for (const h of fleet.hosts) for (const a of h.apps) yield fleet.appStarted(a);
      };
      await events.all(apps());
      log(`setup: ${config.applications.length} AppStarted stored (${events.failed} failed) after ${((now() - setupStart) / 1000).toFixed(1)} s`);
      let lastLog = now();
      steady = await waitFor('every pair to get its primary and the SCS to catch up', async () => {
        const withPrimary = fleet.pairsWithPrimary();
        const [h, last] = await Promise.all([healthz(), lastEventSeq()]);
        const lag = last - Number(h['lastSeq']);
        if (now() - lastLog > 10_000) {
          lastLog = now();
          log(`setup: ${withPrimary}/${fleet.pairs.size} pairs with a primary, SCS at ${String(h['lastSeq'])} of ${last}`);
        }
        return withPrimary === fleet.pairs.size && lag < 10 && events.inflight === 0;
      }, 500);
    }
    // promote timeouts fire 2 s after the promotions (TimerFired, ignored once answered): let them pass
    if (steady) {
      await sleep(3000);
      await waitFor('the SCS to catch up after the promotions', async () => (await lastEventSeq()) - Number((await healthz())['lastSeq']) < 10);
    }
    const setupSeconds = (now() - setupStart) / 1000;
    const setupEvents = await lastEventSeq();
    const setupNote = steady ? null : `steady state not reached within ${o.setupTimeoutSeconds ?? 900} s: ${fleet.pairsWithPrimary()}/${fleet.pairs.size} pairs with a primary; measured anyway`;
    log(`setup: ${steady ? 'steady' : 'NOT steady'} after ${setupSeconds.toFixed(1)} s, ${setupEvents} inputs in the log`);

    // ---- the measured window ----
    const apps = [...fleet.pairs.values()];
    const busyUntil = new Map<string, number>();
    const restoreQueue: { app: SimApp; incarnation: number; at: number }[] = [];
    const tr = { primaries: 0, backups: 0, restored: 0 };
    const hbSeq = async () => (await jsm.streams.info(HEARTBEATS_STREAM)).state.last_seq;
    const mono0 = Number(process.hrtime.bigint() / 1000n);
    const w0 = { t: now(), scs: cpuSeconds(scs.pid), nats: cpuSeconds(nats.proc!.pid), sim: process.cpuUsage(), hb: hb.stored, hbSeq: await hbSeq(), ev: await lastEventSeq(), skipped: hb.skippedInFlight, late: hb.lateSlots, failed: hb.failed };
    measuring = true;
    let rssMax = 0;
    let credit = 0;
    let ticks = 0;
    const quiet = (p: SimApp): boolean => {
      const q = p.partner;
      return p.incarnation !== null && q.incarnation !== null && !p.starting && !q.starting && !pending.has(p.id) && !pending.has(q.id) && now() > (busyUntil.get(p.pair) ?? 0);
    };
    trickle = setInterval(() => {
      ticks++;
      if (ticks % 10 === 0) rssMax = Math.max(rssMax, memoryMiB(scs!.pid).rss);
      const t = now();
      for (const [app, w] of pending) if (t - w.t0 > 15_000) pending.delete(app); // counted as missing below
      while (restoreQueue.length > 0 && restoreQueue[0]!.at <= t) {
        const r = restoreQueue.shift()!;
        if (r.app.incarnation === r.incarnation && r.app.status === 'service-unavailable') {
          void events.publish(fleet.statusChanged(r.app, 'started'));
          tr.restored++;
        }
      }
      credit += changesPerSecond / 10;
      for (; credit >= 1; credit--) {
        const primaryCase = rnd.next() < 0.5;
        for (let attempt = 0; attempt < 8; attempt++) {
          const p = apps[Math.floor(rnd.next() * apps.length)]!;
          if (!quiet(p)) continue;
          const cur = p.role === 'primary' ? p : p.partner.role === 'primary' ? p.partner : null;
          if (!cur) continue;
          const other = cur.partner;
          const target = primaryCase ? cur : other;
          if (target.status !== 'started' || (primaryCase && (other.status !== 'started' || other.role !== 'backup'))) continue;
          const incarnation = target.incarnation!;
          busyUntil.set(p.pair, t + 6000); // its switchover and the return to started, then a pause
          if (primaryCase) {
            pending.set(target.id, { t0: now(), incarnation });
            tr.primaries++;
          } else {
            tr.backups++;
          }
          void events.publish(fleet.statusChanged(target, 'service-unavailable'));
          restoreQueue.push({ app: target, incarnation, at: t + 5000 });
          break;
        }
      }
    }, 100);
    const latencyCountAt = () => latencies.length;
    const measuredPrimariesAt = () => tr.primaries;
    await sleep(o.seconds * 1000);
    const mono1 = Number(process.hrtime.bigint() / 1000n);
    const w1 = { t: now(), scs: cpuSeconds(scs.pid), nats: cpuSeconds(nats.proc!.pid), sim: process.cpuUsage(w0.sim), hb: hb.stored, hbSeq: await hbSeq(), ev: await lastEventSeq() };
    clearInterval(trickle);
    trickle = undefined;
    // let the last measures complete (not part of the CPU window)
    const deadline = now() + 15_000;
    while (pending.size > 0 && now() < deadline) await sleep(100);
    measuring = false;
    const missing = measuredPrimariesAt() - latencyCountAt();
    const mem = memoryMiB(scs.pid);
    const h = await healthz().catch((): Record<string, unknown> => ({}));
    if (o.scsHeapSnapshot) await heapSnapshot(scs, o.scsHeapSnapshot, log);
    const lagAtEnd = (await lastEventSeq()) - Number(h['lastSeq'] ?? 0);
    const secs = (w1.t - w0.t) / 1000;
    const storedHb = w1.hbSeq - w0.hbSeq;
    const scsCpu = w1.scs - w0.scs;
    const natsCpu = w1.nats - w0.nats;
    const simCpu = (w1.sim.user + w1.sim.system) / 1e6;
    const obs = await observations(ncEv, jsm);
    const lost = obs.filter((x) => x.type === 'HostLost');
    const falseLost = lost.filter((x) => hb!.maxGapOf(fleet.hostById.get(x.host)?.index ?? -1) < SCALE_TIMING.hostTimeoutMs!);
    const logCounts = await countInLog(scs.logFile, {
      feedBehind: 'heartbeat feed was behind the store',
      feedSuspected: 'suspecting our own feed',
      claims: '"msg":"lease won; claim stored"',
      stepDowns: '"msg":"stepping down"',
      effectsDropped: 'effect dropped',
      promotionTimeouts: '"notice":"promotion-timed-out"',
    });
    ok = true;
    return {
      hosts: o.hosts,
      apps: config.applications.length,
      pairs: fleet.pairs.size,
      seconds: r2(secs),
      timing: config.timing,
      configAppliedBytes,
      maxPayload,
      setup: { seconds: r2(setupSeconds), steady, pairsWithPrimary: fleet.pairsWithPrimary(), events: setupEvents, note: setupNote },
      scs: {
        cpuSecondsPer1000Heartbeats: Math.round((scsCpu / Math.max(1, storedHb / 1000)) * 1e4) / 1e4,
        cpuSeconds: r2(scsCpu),
        cores: r2(scsCpu / secs),
        rssMiB: mem.rss,
        rssMaxInWindowMiB: Math.max(rssMax, mem.rss),
        hwmMiB: mem.hwm,
        /** The SCS's own view at the end (process.memoryUsage(), /healthz). */
        memoryMiB: (h['memoryMiB'] as Record<string, number> | undefined) ?? null,
        lagAtEnd,
        malformed: Number(h['malformed'] ?? 0),
        ...logCounts,
      },
      heartbeats: {
        target: Math.round((o.hosts * 1000) / SCALE_TIMING.heartbeatMs!),
        stored: Math.round(storedHb / secs),
        simulatorPerSecond: Math.round((w1.hb - w0.hb) / secs),
        skippedInFlight: hb.skippedInFlight - w0.skipped,
        lateSlots: hb.lateSlots - w0.late,
        failed: hb.failed - w0.failed,
        mode,
        maxGapMs: Math.round(hb.maxGap),
      },
      decisions: { latencyMs: summarize(latencies), missing, what: 'AppStatusChanged(service-unavailable) of a primary published -> its demote command received on ha.cmd.<host>.<app>' },
      trickle: { changesPerSecond, ...tr, eventsPerSecond: Math.round((w1.ev - w0.ev) / secs) },
      hostLost: { total: lost.length, inWindow: lost.filter((x) => x.seq > w0.ev && x.seq <= w1.ev).length, falseHostLost: falseLost.length, hostReturned: obs.filter((x) => x.type === 'HostReturned').length },
      commands,
      refused: fleet.refusals,
      simulator: { cpuSeconds: r2(simCpu), cores: r2(simCpu / secs) },
      natsServer: { cpuSeconds: r2(natsCpu), cores: r2(natsCpu / secs), rssMiB: memoryMiB(nats.proc!.pid).rss },
      dir: o.keep ? dir : null,
      monoWindowUs: [mono0, mono1],
    };
  } finally {
    if (trickle) clearInterval(trickle);
    hb?.stop();
    await ncHb?.close().catch(() => undefined);
    await ncEv?.close().catch(() => undefined);
    await scs?.stop('SIGTERM');
    await Promise.all([nats.stop(), redis.stop()]);
    if (ok && !o.keep) rmSync(dir, { recursive: true, force: true });
    else log(`logs kept in ${dir}`);
  }
};

export const SCALE_HELP = `usage: node bench/dist/scale.js [--hosts N] [--seconds S] [options]

Scale simulator: N simulated hosts (10 applications each, 5 pairs per host across neighbouring
hosts; heartbeats at 1/s per host spread evenly, hostTimeoutMs 3000) against a real SCS process on
a harness-started nats-server and redis-server. The simulated LCAs publish LcaStarted, AppStarted and
heartbeats with the real schemas and answer the SCS's commands as a real LCA would; once every pair
has its primary, a trickle of status changes runs for S seconds. Prints a JSON report: SCS CPU
seconds per 1,000 heartbeats, SCS RSS, decision latency, HostLost count, the simulator's own rate.

options:
  --hosts N                 simulated hosts (default 1000)
  --seconds S               measured window (default 60)
  --changes-per-second R    status changes per second in the window (default hosts/100, at least 2)
  --setup-timeout S         bound on reaching the steady state (default 900)
  --lease-ms MS             the cluster's leaseMs (default 2000, the product's default)
  --heartbeats ack|core     JetStream publish awaiting acks, as the LCA does (default), or plain publish
  --max-payload BYTES       nats-server max_payload (default ${BENCH_MAX_PAYLOAD}; the server's own default is 1 MB)
  --log-level L             the SCS's HA_LOG_LEVEL (default info)
  --scs-cpu-prof DIR        run the SCS with node --cpu-prof into DIR (monoWindowUs in the report cuts it to the window)
  --scs-heap-snapshot DIR   write a heap snapshot of the SCS into DIR at the end of the window
  --keep                    keep the directory with the logs and the store
  --help                    this text
`;

const main = async (): Promise<void> => {
  const argv = process.argv;
  if (argv.includes('--help')) {
    process.stdout.write(SCALE_HELP);
    return;
  }
  const val = (n: string): string | undefined => {
    const i = argv.indexOf(`--${n}`);
    return i > 0 ? argv[i + 1] : undefined;
  };
  const num = (n: string): number | undefined => (val(n) === undefined ? undefined : Number(val(n)));
  const mode = val('heartbeats');
  if (mode !== undefined && mode !== 'ack' && mode !== 'core') throw new Error('--heartbeats wants ack or core');
  const r = await runScale({
    hosts: num('hosts') ?? 1000,
    seconds: num('seconds') ?? 60,
    ...(num('changes-per-second') !== undefined ? { changesPerSecond: num('changes-per-second')! } : {}),
    ...(num('setup-timeout') !== undefined ? { setupTimeoutSeconds: num('setup-timeout')! } : {}),
    ...(num('lease-ms') !== undefined ? { leaseMs: num('lease-ms')! } : {}),
    ...(num('max-payload') !== undefined ? { maxPayload: num('max-payload')! } : {}),
    ...(mode ? { heartbeatMode: mode } : {}),
    ...(val('log-level') ? { logLevel: val('log-level')! } : {}),
    ...(val('scs-cpu-prof') ? { scsCpuProf: val('scs-cpu-prof')! } : {}),
    ...(val('scs-heap-snapshot') ? { scsHeapSnapshot: val('scs-heap-snapshot')! } : {}),
    keep: argv.includes('--keep'),
  });
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`scale: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
