import { createServer, type Server } from 'node:http';
import { getHeapSpaceStatistics } from 'node:v8';
import { DeliverPolicy, jetstream, JetStreamApiCodes, JetStreamApiError, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { isWrongLastSequence, lastOnSubject, monoMs, openPrimaries, ensureStreams, TimeSlicer, within, type Logger, type Msg, type NatsConnection } from '@ha/bus';
import {
  codec,
  DecisionRecordSchema,
  EVENTS_STREAM,
  HEARTBEATS_STREAM,
  parseHeartbeat,
  parseInput,
  parseWith,
  streamSpecs,
  subjects,
  type ClusterConfig,
  type Input,
  type Recorded,
  type StatusDoc,
} from '@ha/events';
import { DECIDER_VERSION, initialState, transition, type HostState, type State } from '../decider/index.js';
import { Detector } from '../detector/detector.js';
import { ClaimWatch } from './claimWatch.js';
import { Executor } from './executor.js';
import { configDigest, FileConfig } from './fileConfig.js';
import type { Lease } from './lease.js';
import { judgeLog, type LogSeen } from './logCheck.js';
import { fitStatus, statusDoc } from './status.js';
import { ShadowCheck, type ShadowDiff } from './shadow.js';

export type Role = 'standby' | 'claiming' | 'active';

const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const memoryMiB = () => {
  const m = process.memoryUsage();
  return { rss: mib(m.rss), heapUsed: mib(m.heapUsed), heapTotal: mib(m.heapTotal), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) };
};
/** Each V8 heap space's committed size and what it uses, MiB (where the heap's room is). */
const heapSpacesMiB = () => Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { size: mib(s.space_size), used: mib(s.space_used_size) }]));

export type ServerOptions = {
  id: string;
  nc: NatsConnection;
  /**
   * A connection of its own for the heartbeat feed (default `nc`). A message's data is a view of
   * the socket read it came in (64 KB or more): on one connection, every event waiting in the
   * projection's queue kept the heartbeats read with it alive, about 10 MB a second at 10,000
   * hosts, and they outlived the young generation (decision 0013).
   */
  feedNc?: NatsConnection;
  /** Made once the cluster name is known (the key is `ha:<cluster>:scs:leader`). */
  lease: (cluster: string) => Lease;
  config: ClusterConfig | null;
  http: { host: string; port: number } | null;
  log: Logger;
};

/** Pulls of the SCS's ordered consumers: a lost pull is noticed within 2 s (idle heartbeat 1 s, two missed). */
const FEED_PULL = { expires: 2000 } as const;

/** A lease key no SCS could have written (a log problem) is logged again at most this often while it stays. */
export const LEASE_PROBLEM_LOG_MS = 30_000;
/** How often the streams' configurations and the log's continuity are checked. */
export const LOG_CHECK_MS = 2000;

const DEFAULT_TIMING = { heartbeatMs: 250, hostTimeoutMs: 1000, leaseMs: 2000, scsTimeoutMs: 1000 };

/**
 * One control server: projects `HA_EVENTS` through the decider (every instance, always), and when
 * it holds the lease and its claim is the latest, carries out the effects and runs the detector.
 */
export class ControlServer {
  state: State = initialState();
  role: Role = 'standby';
  epoch = 0;
  malformed = 0;
  /** Heartbeats of hosts the configuration in force does not name, ignored. */
  unknownHeartbeats = 0;
  /** Times the store held a later heartbeat than the detector judged by (a lagging feed). */
  feedBehind = 0;
  caughtUp = false;

  readonly #o: ServerOptions;
  readonly #log: Logger;
  #js!: JetStreamClient;
  #feedJs!: JetStreamClient;
  #jsm!: JetStreamManager;
  #executor!: Executor;
  #lease: Lease | null = null;
  #leaseProblem: string | null = null;
  #logSeen: LogSeen = { created: null, replicas: null };
  #logProblems: string[] = [];
  #logWarnings: string[] = [];
  /** When the streams were last read whole (a check that completed). */
  #logReadAt = -Infinity;
  #logCheckRun: Promise<void> | null = null;
  #logCheckError = '';
  #logProblemsLoggedAt = -Infinity;
  #leaseProblemLoggedAt = -Infinity;
  #leaseCheckedAt = -Infinity;
  #leaseStart = 0;
  #lastOtherScsHb = -Infinity;
  #detector: Detector;
  #stopped = false;
  #timers: NodeJS.Timeout[] = [];
  #events: ConsumerMessages | null = null;
  #heartbeats: ConsumerMessages | null = null;
  #lastAnyHeartbeat = monoMs();
  #feedSuspect = false;
  #http: Server | null = null;
  #leaderTickRun: Promise<void> | null = null;
  #lastTickError = '';
  readonly #shadow = new ShadowCheck();
  readonly #claimWatch = new ClaimWatch();
  /** The epoch in which we last offered our file's configuration (it does not change while we run). */
  #configOfferedIn = 0;
  /** Our file's configuration, if any: its digest and compressed text, not its objects (decision 0013). */
  readonly #file: FileConfig | null;
  /** Digest of the configuration in force, once it was applied while we have a file to compare. */
  #inForceDigest: string | null = null;
  /** Sequence of the last message on the claim subject, valid or not: what the claim fence expects. */
  #lastClaimSubjectSeq = 0;
  /** While claiming: the last claim-subject sequence before ours. */
  #claimAfter = Infinity;
  /** Resolves each time the projection has applied an input (tests and claims wait on it). */
  #waiters: { seq: number; resolve: () => void }[] = [];
  /** The last `HA_EVENTS` sequence the projection has been through, valid input or not. */
  #seenSeq = 0;
  /** The projected hosts as a list, rebuilt only when the (persistent) host map changed: the detector ticks 20 times a second. */
  // Held weakly: a version of the map that is held keeps the diffs from it to the newest one (decision 0007).
  #hostList: { of: WeakRef<State['hosts']>; at: number; list: readonly HostState[] } | null = null;

  constructor(o: ServerOptions) {
    this.#o = { ...o, config: null }; // the parsed file is not kept
    this.#file = o.config ? FileConfig.of(o.config) : null;
    this.#log = o.log;
    const t = this.timing;
    this.#detector = new Detector(t.hostTimeoutMs, Math.max(10, Math.min(50, Math.floor(t.hostTimeoutMs / 20))));
  }

  get timing() {
    return this.state.config?.timing ?? this.#file?.timing ?? DEFAULT_TIMING;
  }
  get margin(): number {
    return Math.max(50, Math.floor(this.timing.leaseMs / 10));
  }

  /** True only while this SCS is the latest claimer and its lease is provably held. */
  canAct = (): boolean => this.role === 'active' && !this.#stopped && this.#logProblems.length === 0 && monoMs() < this.#leaseStart + this.timing.leaseMs - this.margin;

  async start(): Promise<void> {
    const { nc } = this.#o;
    this.#jsm = await ensureStreams(nc);
    this.#js = jetstream(nc);
    this.#feedJs = this.#o.feedNc ? jetstream(this.#o.feedNc) : this.#js;
    const kv = await openPrimaries(nc);
    this.#executor = new Executor(this.#js, this.#jsm, kv, this.#o.id, this.canAct, this.#log);
    await this.#logCheckTick();

    nc.subscribe(subjects.scsHeartbeatAll, {
      callback: (_e, m) => {
        if (m.subject !== subjects.scsHeartbeat(this.#o.id)) this.#lastOtherScsHb = monoMs();
      },
    });
    // Every SCS answers, and the first answer wins: one that is paused or hung cannot swallow the
    // request (as a queue group member would), and one that is behind answers only once it has
    // caught up, or said so after a bounded wait (a caught-up one has answered long before).
    const answer = (m: Msg) => void this.#statusNow().then((doc) => this.#respond(m, doc)).catch((e: unknown) => this.#log.warn({ err: (e as Error).message }, 'status request not answered'));
    nc.subscribe(subjects.status, { callback: (_e, m) => answer(m) });
    nc.subscribe(subjects.statusOf(this.#o.id), { callback: (_e, m) => answer(m) });
    nc.subscribe(subjects.decisionsAll, {
      callback: (_e, m) => {
        if (this.role === 'active') return;
        const r = parseWith(DecisionRecordSchema)(m.data);
        if (r.ok && r.value.scs !== this.#o.id) this.#reportShadow(this.#shadow.recorded(r.value));
      },
    });
    void this.#watchStatus(nc);
    if (this.#o.feedNc) void this.#watchStatus(this.#o.feedNc);
    await this.#startHttp();
    void this.#consumeEvents();
    void this.#consumeHeartbeats();
    const t = this.timing;
    this.#timers.push(setInterval(() => void this.#leaderTick(), Math.max(50, Math.floor(t.leaseMs / 4))));
    // apart from the leader tick: a slow stream read must not hold up a lease renewal
    this.#timers.push(setInterval(() => void this.#logCheckTick(), LOG_CHECK_MS));
    this.#timers.push(setInterval(() => void this.#detectorTick(), this.#detector.tickMs));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#executor?.clearTimers();
    if (this.role !== 'standby') await this.#lease?.release().catch(() => undefined);
    await this.#lease?.close();
    await this.#events?.close();
    await this.#heartbeats?.close();
    await new Promise<void>((r) => (this.#http ? this.#http.close(() => r()) : r()));
  }

  /** Waits until the projection has applied the input at `seq`. */
  applied(seq: number): Promise<void> {
    if (this.#seenSeq >= seq) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ seq, resolve }));
  }

  /** Like `applied`, but gives up after `ms`: true when the projection got there. */
  #appliedWithin(seq: number, ms: number): Promise<boolean> {
    if (this.#seenSeq >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { seq, resolve: () => { clearTimeout(timer); resolve(true); } };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        resolve(false);
      }, Math.max(0, ms));
      this.#waiters.push(w);
    });
  }

  // ---- projection -------------------------------------------------------------------------

  async #consumeEvents(): Promise<void> {
    const c = await this.#js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
    // A pull that the server lost (it restarted, JetStream was not back yet) is noticed by the
    // missed idle heartbeats, every expires/2: with the client's default (30 s) a chaos run saw a
    // claiming SCS wait 35 s for its own claim, holding the lease, with nobody acting.
    this.#events = await c.consume(FEED_PULL);
    // An empty log delivers nothing, so nothing would ever say we caught up with it.
    if ((await this.#jsm.streams.info(EVENTS_STREAM)).state.last_seq === 0) this.#caughtUp();
    const slicer = new TimeSlicer();
    for await (const m of this.#events) {
      if (slicer.due()) await slicer.yield(); // a backlog must not starve the lease renewal
      const at = Number(m.timestampNanos / 1_000_000n);
      if (m.subject === subjects.claim) this.#lastClaimSubjectSeq = m.seq;
      const parsed = parseInput(m.subject, m.data);
      if (!parsed.ok) {
        this.malformed++;
        this.#log.warn({ subject: m.subject, seq: m.seq, err: parsed.error, malformed: this.malformed }, 'malformed input skipped');
        this.#advance(m.seq);
        if (m.info.pending === 0) this.#caughtUp();
        continue;
      }
      // The digest first: the renewal before a heavy input is what its transition may use.
      const digest = this.#file && parsed.value.type === 'ConfigApplied' ? configDigest(parsed.value.config) : null;
      if (this.#heavy(parsed.value)) await this.#renewNow();
      await this.#apply({ seq: m.seq, at, input: parsed.value }, digest);
      if (m.info.pending === 0) this.#caughtUp();
    }
  }

  #caughtUp(): void {
    if (this.caughtUp) return;
    this.caughtUp = true;
    this.#log.info({ seq: this.state.lastSeq, epoch: this.state.epoch, active: this.state.active }, 'projection caught up');
  }

  #advance(seq: number): void {
    this.#seenSeq = seq;
    this.#claimWatch.progressed(monoMs());
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => w.seq <= seq);
    this.#waiters = this.#waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.resolve();
  }

  /** `digest`: of the input's configuration, if it is one and we have a file to compare it with. */
  async #apply(rec: Recorded<Input>, digest: string | null = null): Promise<void> {
    const before = this.state;
    const { state, effects } = transition(before, rec);
    this.state = state;
    if (state.config && state.config !== before.config) {
      this.#detector.setTimeout(state.config.timing.hostTimeoutMs);
      // The state keeps only a policy of it: the whole configuration is compared by its digest.
      if (this.#file && rec.input.type === 'ConfigApplied') this.#inForceDigest = digest ?? configDigest(rec.input.config);
    }
    if (rec.input.type === 'ScsClaimed') this.#onClaim(rec.seq, rec.input.scs);
    else if (rec.input.type === 'LcaResumed') this.#detector.resumed(rec.input.host, rec.input.lca, rec.input.n, rec.at, monoMs());
    if (this.role === 'active' && rec.seq >= this.epoch) await this.#executor.run(rec, effects);
    else this.#reportShadow(this.#shadow.applied(rec.seq, effects));
    this.#advance(rec.seq);
  }

  /**
   * Our own claim becomes active exactly when the projection applies it, so that its effects (and
   * those of every later input) are carried out, whether or not the publish ack arrived first.
   */
  #onClaim(seq: number, scs: string): void {
    if (scs === this.#o.id && this.role === 'claiming' && seq > this.#claimAfter) {
      this.role = 'active';
      this.#claimWatch.settled();
      this.epoch = seq;
      this.#executor.setEpoch(seq);
      this.#detector.reset(monoMs());
      this.#log.info({ epoch: seq }, 'active: claim is the latest in the log');
      this.#o.nc.publish(subjects.scsHeartbeat(this.#o.id), codec.encode({ id: this.#o.id, epoch: seq }));
      void this.#offerConfig();
    } else if (this.role === 'active' && seq > this.epoch) {
      this.#stepDown(`a later claim by ${scs} (epoch ${seq})`);
    }
  }

  // ---- leadership --------------------------------------------------------------------------

  /**
   * Inputs whose transition holds the thread for long with many applications (our claim reconciles
   * every pair: about 1.3 s for 50,000; a configuration of 100,000 applications takes 1.6 s to parse
   * and apply). The lease is renewed right before them, so that they do not eat up a lease that was
   * already half gone, and their effects are not dropped for want of it.
   */
  #heavy(input: Input): boolean {
    if (this.role === 'standby') return false;
    return (input.type === 'ScsClaimed' && input.scs === this.#o.id) || input.type === 'ConfigApplied';
  }

  /** One leadership tick at a time: a call while one runs gets that one. */
  #leaderTick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#leaderTickRun ??= this.#leaderTickOnce().finally(() => {
      this.#leaderTickRun = null;
    });
    return this.#leaderTickRun;
  }

  /** A renewal that starts now: after the tick under way, if any, another one. */
  async #renewNow(): Promise<void> {
    if (this.#leaderTickRun) await this.#leaderTickRun;
    await this.#leaderTick();
  }

  async #leaderTickOnce(): Promise<void> {
    try {
      if (this.role === 'standby') await this.#tryToLead();
      else await this.#keepLeading();
      this.#lastTickError = '';
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.#lastTickError) this.#log.warn({ err: msg }, 'leadership tick failed; retrying');
      this.#lastTickError = msg;
    }
  }

  #ensureLease(): Lease | null {
    if (this.#lease) return this.#lease;
    const cluster = this.state.config?.cluster ?? this.#file?.cluster;
    if (!cluster) return null;
    this.#lease = this.#o.lease(cluster);
    return this.#lease;
  }

  async #tryToLead(): Promise<void> {
    const t = this.timing;
    if (!this.caughtUp || !this.#claimWatch.mayClaim) return;
    // never claim over a log that is not the one decided from, nor one not read lately
    if (this.#logProblems.length > 0 || monoMs() - this.#logReadAt > 3 * LOG_CHECK_MS) return;
    if (monoMs() - this.#lastOtherScsHb < t.scsTimeoutMs) return; // rule 10: an active SCS is visible
    const lease = this.#ensureLease();
    if (!lease) return;
    const t0 = monoMs();
    if (!(await lease.tryAcquire(t.leaseMs))) {
      await this.#checkLeaseKey(lease);
      return;
    }
    this.#clearLeaseProblem();
    this.#leaseStart = t0;
    const lastClaim = this.#lastClaimSubjectSeq;
    this.#claimAfter = lastClaim;
    this.role = 'claiming';
    try {
      const pa = await this.#js.publish(subjects.claim, codec.encode({ type: 'ScsClaimed', v: 1, scs: this.#o.id, deciderVersion: DECIDER_VERSION }), {
        expect: { lastSubjectSequence: lastClaim },
        timeout: t.scsTimeoutMs,
      });
      if (this.role === 'claiming') this.#claimWatch.claimed(monoMs());
      this.#log.info({ epoch: pa.seq, previous: lastClaim }, 'lease won; claim stored');
    } catch (e) {
      if (this.role === 'claiming') this.role = 'standby';
      this.#log.warn({ err: (e as Error).message, fenced: isWrongLastSequence(e) }, 'claim not stored; staying standby');
      await lease.release().catch(() => undefined);
    }
  }

  /**
   * A lease key no SCS could have written (no expiry, or one far beyond leaseMs: an SCS sets and
   * extends it only with PX leaseMs) stops every SCS for as long as it stays. It is reported (a line
   * every LEASE_PROBLEM_LOG_MS at most, /healthz, the status document), not deleted: whoever wrote
   * it can write it again, and an operator may have set it on purpose to hold every SCS back. Deleting
   * it by hand is safe: the lease gives liveness only, the claim fence in the log gives safety.
   */
  async #checkLeaseKey(lease: Lease): Promise<void> {
    if (monoMs() - this.#leaseCheckedAt < this.timing.leaseMs) return;
    this.#leaseCheckedAt = monoMs();
    const { holder, pttlMs } = await lease.inspect();
    const bound = Math.max(10 * this.timing.leaseMs, 60_000);
    const problem =
      pttlMs === -1
        ? `the lease key ${lease.key} (held by ${JSON.stringify(holder)}) has no expiry: no SCS can become active until it is deleted (redis-cli DEL ${lease.key})`
        : pttlMs > bound
          ? `the lease key ${lease.key} (held by ${JSON.stringify(holder)}) expires in ${pttlMs} ms, far beyond leaseMs (${this.timing.leaseMs}): no SCS set it`
          : null;
    if (problem === null) {
      this.#clearLeaseProblem();
      return;
    }
    if (problem !== this.#leaseProblem || monoMs() - this.#leaseProblemLoggedAt >= LEASE_PROBLEM_LOG_MS) {
      this.#log.error({ key: lease.key, holder, pttlMs }, problem);
      this.#leaseProblemLoggedAt = monoMs();
    }
    this.#leaseProblem = problem;
  }

  #clearLeaseProblem(): void {
    if (this.#leaseProblem === null) return;
    this.#log.info({ was: this.#leaseProblem }, 'lease key problem gone');
    this.#leaseProblem = null;
  }

  /** What keeps this SCS from acting that an operator must fix (status `scs.problems`, /healthz). */
  get problems(): string[] {
    return [...(this.#leaseProblem === null ? [] : [this.#leaseProblem]), ...this.#logProblems.map((p) => `not acting: ${p}`), ...this.#logWarnings];
  }

  /**
   * The streams' configurations and the log's continuity (decision 0015): a log truncated (a lowered
   * max_msgs dropped its start silently), replaced or open to truncation is reported and never acted
   * on: no claim, no effects (canAct), an active SCS steps down. Checked at start and every
   * LOG_CHECK_MS; a claim needs a check that completed within 3 × LOG_CHECK_MS.
   */
  #logCheckTick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#logCheckRun ??= this.#checkLog()
      .then(() => {
        this.#logCheckError = '';
      })
      .catch((e: unknown) => {
        const msg = (e as Error).message;
        if (msg !== this.#logCheckError) this.#log.warn({ err: msg }, 'cannot check the streams; retrying');
        this.#logCheckError = msg;
      })
      .finally(() => {
        this.#logCheckRun = null;
      });
    return this.#logCheckRun;
  }

  async #checkLog(): Promise<void> {
    // where the projection stands, read before the log: it can only have moved on since
    const at = { lastSeq: this.state.lastSeq, epoch: this.state.epoch };
    const infos = new Map<string, StreamInfo>();
    const read = async (name: string): Promise<void> => {
      try {
        infos.set(name, await within(this.#jsm.streams.info(name), this.timing.scsTimeoutMs, `stream ${name} did not answer`));
      } catch (e) {
        if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
      }
    };
    const claimRead = at.epoch > 0 ? this.#jsm.streams.getMessage(EVENTS_STREAM, { seq: at.epoch }).catch(() => 'unread' as const) : Promise.resolve('unread' as const);
    await Promise.all(streamSpecs.map((spec) => read(spec.name)));
    const claim: { subject: string } | null | 'unread' = await claimRead;
    this.#logReadAt = monoMs();
    const v = judgeLog(infos, at, claim, this.#logSeen);
    this.#logSeen = v.seen;
    const changed = v.blocking.join('\n') !== this.#logProblems.join('\n') || v.warnings.join('\n') !== this.#logWarnings.join('\n');
    const now = monoMs();
    if (changed || ((v.blocking.length > 0 || v.warnings.length > 0) && now - this.#logProblemsLoggedAt >= LEASE_PROBLEM_LOG_MS)) {
      if (v.blocking.length > 0) this.#log.error({ problems: v.blocking }, 'the log is not the one decisions were made from (or may be cut at any time): not acting until it is restored');
      if (v.warnings.length > 0) this.#log.warn({ problems: v.warnings }, 'streams configured otherwise than expected');
      if (v.blocking.length === 0 && this.#logProblems.length > 0) this.#log.info('log problems gone');
      this.#logProblemsLoggedAt = now;
    }
    this.#logProblems = v.blocking;
    this.#logWarnings = v.warnings;
    if (v.blocking.length > 0) this.#stepDown('the log was truncated, replaced or opened to truncation');
  }

  async #keepLeading(): Promise<void> {
    const t = this.timing;
    const lease = this.#lease;
    if (!lease) return;
    if (monoMs() >= this.#leaseStart + t.leaseMs - this.margin) {
      this.#stepDown('lease expired before it could be renewed');
      return;
    }
    const stallMs = Math.max(t.leaseMs, 2 * FEED_PULL.expires);
    if (this.role === 'claiming' && this.#claimWatch.stalled(monoMs(), stallMs)) {
      this.#stepDown(`our claim was stored but the projection has not moved for ${stallMs} ms; giving the lease up`);
      return;
    }
    if (!(await this.#jetStreamAnswers())) return;
    const t0 = monoMs();
    let renewed = false;
    try {
      renewed = await lease.renew(t.leaseMs);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.#lastTickError) this.#log.warn({ err: msg }, 'lease renewal failed');
      this.#lastTickError = msg;
      return; // keep acting until the lease we proved runs out
    }
    if (!renewed) {
      this.#stepDown('lease owned by another SCS');
      return;
    }
    this.#leaseStart = t0;
    if (this.role === 'active') this.#o.nc.publish(subjects.scsHeartbeat(this.#o.id), codec.encode({ id: this.#o.id, epoch: this.epoch }));
  }

  /**
   * The lease is renewed only while JetStream answers within scsTimeoutMs. An ack of one of our own
   * writes that recent proves it; otherwise we ask (a busy SCS's question would wait behind its own
   * writes, and it would lose its lease for being busy).
   */
  async #jetStreamAnswers(): Promise<boolean> {
    const t = this.timing;
    if (monoMs() - this.#executor.lastAckAt < t.scsTimeoutMs) return true;
    try {
      await within(this.#jsm.getAccountInfo(), t.scsTimeoutMs, 'JetStream did not answer');
      return true;
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, 'JetStream unresponsive; not renewing the lease');
      return false;
    }
  }

  #stepDown(why: string): void {
    if (this.role === 'standby') return;
    this.#log.warn({ epoch: this.epoch, why }, 'stepping down');
    this.role = 'standby';
    this.#claimWatch.settled();
    this.#executor.clearTimers();
    void this.#lease?.release().catch(() => undefined);
  }

  /** The active SCS appends its file's configuration when it differs from the log's. */
  async #offerConfig(): Promise<void> {
    const cfg = this.#file;
    if (!cfg || !this.canAct()) return;
    if (this.#inForceDigest === cfg.digest) return;
    if (this.#configOfferedIn === this.epoch) return;
    this.#configOfferedIn = this.epoch;
    const data = cfg.message(this.epoch, this.#o.id);
    // The whole configuration travels in one message (about 200 bytes per application): it must fit
    // the server's max_payload (1 MB by default, about 5,000 applications).
    const max = this.#o.nc.info?.max_payload;
    if (max !== undefined && data.length > max) {
      this.#log.error({ bytes: data.length, maxPayload: max, applications: cfg.applications }, 'configuration not appended: it is larger than the NATS server\'s max_payload; raise max_payload in nats-server.conf');
      return;
    }
    try {
      await this.#js.publish(subjects.config, data);
    } catch (e) {
      this.#configOfferedIn = 0;
      this.#log.error({ err: (e as Error).message, bytes: data.length }, 'configuration not appended to the log; the log keeps the previous one (offered again at the next claim)');
      return;
    }
    this.#log.info({ cluster: cfg.cluster, epoch: this.epoch }, 'configuration appended to the log');
  }

  // ---- detector ----------------------------------------------------------------------------

  /** Reads stored heartbeats for as long as the server runs; re-opened when it ends or fails. */
  async #consumeHeartbeats(): Promise<void> {
    while (!this.#stopped) {
      try {
        const c = await this.#feedJs.consumers.get(HEARTBEATS_STREAM, { deliver_policy: DeliverPolicy.LastPerSubject });
        this.#heartbeats = await c.consume(FEED_PULL);
        const slicer = new TimeSlicer();
        for await (const m of this.#heartbeats) {
          if (slicer.due()) await slicer.yield();
          const hb = parseHeartbeat(m.data);
          if (!hb.ok) {
            this.malformed++;
            this.#log.warn({ subject: m.subject, seq: m.seq, err: hb.error }, 'malformed heartbeat skipped');
            continue;
          }
          if (m.subject !== subjects.heartbeat(hb.value.host)) {
            this.malformed++;
            this.#log.warn({ subject: m.subject, seq: m.seq }, 'heartbeat on a foreign subject skipped');
            continue;
          }
          this.#lastAnyHeartbeat = monoMs();
          this.#detector.backlog(m.info.pending + this.#heartbeats.getPending());
          // a host the configuration in force does not name is not watched (forged host ids grew the
          // detector's map without bound); before any configuration, every host is
          if (this.state.config && !this.state.hosts.has(hb.value.host)) {
            if (this.unknownHeartbeats++ % 1000 === 0) this.#log.warn({ host: hb.value.host, unknownHeartbeats: this.unknownHeartbeats }, 'heartbeat of a host the configuration does not name ignored');
            continue;
          }
          this.#detector.heartbeat(hb.value, m.seq, Number(m.timestampNanos / 1_000_000n), monoMs());
        }
      } catch (e) {
        if (!this.#stopped) this.#log.warn({ err: (e as Error).message }, 'heartbeat consumer failed; re-opening');
      }
      if (!this.#stopped) await new Promise((r) => setTimeout(r, 100));
    }
  }

  #hosts(): readonly HostState[] {
    const of = this.state.hosts;
    // At most every 100 ms: with thousands of hosts the map changes with nearly every input, and a
    // list 100 ms old misleads nobody (a verdict is said once per host and basis, and checked).
    const now = monoMs();
    if (this.#hostList === null || (this.#hostList.of.deref() !== of && now - this.#hostList.at >= 100)) this.#hostList = { of: new WeakRef(of), at: now, list: [...of.values()] };
    return this.#hostList.list;
  }

  /**
   * No stored heartbeat from any host for half a host timeout: far more likely our own feed is
   * broken (a NATS restart, a stalled consumer) than every host lost at once. The detector gives
   * every host a fresh timeout and the feed is re-opened, rather than declaring them all lost.
   */
  #feedSilent(): boolean {
    const now = monoMs();
    const upHosts = this.#hosts().some((h) => h.lca === 'up');
    if (!upHosts || now - this.#lastAnyHeartbeat <= this.timing.hostTimeoutMs / 2) {
      this.#feedSuspect = false;
      return false;
    }
    if (!this.#feedSuspect) {
      this.#log.warn({ silentMs: Math.round(now - this.#lastAnyHeartbeat) }, 'no heartbeat from any host: suspecting our own feed, not the hosts; re-opening it');
      void this.#heartbeats?.close().catch(() => undefined);
    }
    this.#feedSuspect = true;
    this.#detector.reset(now);
    return true;
  }

  async #detectorTick(): Promise<void> {
    if (!this.canAct()) return;
    if (this.#feedSilent()) return;
    // Once the store shows our feed behind for one host (or cannot be read), the other verdicts of
    // this tick are taken back, to be judged again at the next: with 10,000 hosts a lagging feed
    // made a thousand store reads a second. Verdicts come longest silence first, so a host that
    // is really silent is checked before those a lagging feed only seems to have lost.
    let feedBehind = false;
    for (const o of this.#detector.tick(monoMs(), this.#hosts())) {
      if (!this.canAct()) return;
      const epoch = this.epoch;
      try {
        if (o.kind === 'lost') {
          if (feedBehind) {
            this.#detector.retract(o.host);
            continue;
          }
          if (!(await this.#silenceConfirmed(o.host, o.evidence?.seq ?? 0))) {
            feedBehind = true;
            continue;
          }
          if (!this.canAct()) return;
          const ev = o.evidence;
          const input = { type: 'HostLost', v: 1, epoch, scs: this.#o.id, host: o.host, lca: ev?.hb.lca ?? null, n: ev?.hb.n ?? null, lastHeartbeatAt: ev ? new Date(ev.at).toISOString() : null, silenceMs: o.silenceMs } as const;
          await this.#js.publish(subjects.observation(o.host), codec.encode(input), { msgID: `obs:${epoch}:${o.host}:lost:${ev?.seq ?? 0}:${ev?.hb.n ?? 0}` });
          this.#log.warn({ host: o.host, silenceMs: o.silenceMs }, 'host lost');
        } else {
          // The detector keeps no application snapshots: the whole heartbeat is read from the store
          // (its last one, stored after the loss as the verdict's evidence is, or later still).
          const sm = await lastOnSubject(this.#jsm, HEARTBEATS_STREAM, subjects.heartbeat(o.host)).catch(() => null);
          const hb = sm ? parseHeartbeat(sm.data) : null;
          if (!sm || !hb?.ok || hb.value.host !== o.host || sm.seq < o.evidence.seq) {
            this.#detector.forgetReturned(o.host);
            this.#log.warn({ host: o.host, seq: sm?.seq }, 'cannot read the returned host\'s heartbeat; judging again');
            continue;
          }
          if (!this.canAct()) return;
          const input = { type: 'HostReturned', v: 1, epoch, scs: this.#o.id, host: o.host, heartbeat: hb.value } as const;
          await this.#js.publish(subjects.observation(o.host), codec.encode(input), { msgID: `obs:${epoch}:${o.host}:returned:${sm.seq}` });
          this.#log.info({ host: o.host }, 'host returned');
        }
      } catch (e) {
        // judged again at the next tick, rather than never (the verdict stays the same)
        if (o.kind === 'lost') this.#detector.retract(o.host);
        else this.#detector.forgetReturned(o.host);
        this.#log.error({ host: o.host, err: (e as Error).message }, 'observation not stored');
      }
    }
  }

  /**
   * Before a host is declared lost, the store itself is asked for the host's last heartbeat: if it
   * holds a later one than the verdict was based on, our feed was behind (a consumer stalled or
   * lagging), not the host silent. The later heartbeat counts as seen now, and nothing is declared.
   * A store that cannot be read declares nothing either: the next tick judges again.
   */
  async #silenceConfirmed(host: string, basisSeq: number): Promise<boolean> {
    let sm;
    try {
      sm = await lastOnSubject(this.#jsm, HEARTBEATS_STREAM, subjects.heartbeat(host));
    } catch (e) {
      this.#detector.retract(host);
      this.#log.warn({ host, err: (e as Error).message }, 'cannot read the host\'s last stored heartbeat; not declaring it lost yet');
      return false;
    }
    const hb = sm ? parseHeartbeat(sm.data) : null;
    const stored = sm && hb?.ok ? { hb: hb.value, seq: sm.seq, at: sm.time.getTime(), mono: monoMs() } : null;
    if (this.#detector.confirm(host, basisSeq, stored, monoMs())) return true;
    this.feedBehind++;
    this.#log.warn({ host, basisSeq, storedSeq: sm?.seq, feedBehind: this.feedBehind }, 'heartbeat feed was behind the store: host not declared lost');
    return false;
  }

  #reportShadow(diffs: ShadowDiff[]): void {
    for (const d of diffs) this.#log.warn({ ...d, shadowDiffs: this.#shadow.diffs }, 'shadow decision differs from the active SCS\'s');
  }

  // ---- status ------------------------------------------------------------------------------

  /** Someone can act: this SCS, or another whose heartbeat (sent only while it holds the lease) is fresh. */
  #status(freshness: { caughtUp: boolean; logLastSeq: number | null }) {
    const acting = this.canAct() || monoMs() - this.#lastOtherScsHb < this.timing.scsTimeoutMs;
    const doc = statusDoc(this.state, this.#detector.last, this.#o.id, acting, freshness);
    const problems = this.problems;
    return problems.length > 0 ? { ...doc, scs: { ...doc.scs, problems } } : doc;
  }

  /** A document larger than the server's max_payload cannot be sent whole: the part that matters first, with a note. */
  #respond(m: Msg, doc: StatusDoc): void {
    const max = this.#o.nc.info?.max_payload;
    const fitted = max === undefined ? doc : fitStatus(doc, max);
    if (fitted.truncated) this.#log.warn({ note: fitted.truncated.note }, 'status answered in part');
    m.respond(codec.encode(fitted));
  }

  /**
   * The status as of now: the log's last sequence is read when the request comes, and the answer
   * waits (a bounded time) until the projection has been through it, so that what an operator did
   * before asking shows in the answer. An SCS that was paused, or whose feed stalled, says so.
   */
  async #statusNow() {
    const bound = Math.min(2000, Math.max(500, this.timing.scsTimeoutMs));
    const t0 = monoMs();
    let logLastSeq: number | null = null;
    try {
      logLastSeq = (await within(this.#jsm.streams.info(EVENTS_STREAM), bound, 'the log did not answer')).state.last_seq;
    } catch {
      // the log cannot be read now: the view is answered as it is, and says so
    }
    const caughtUp = logLastSeq !== null && (await this.#appliedWithin(logLastSeq, bound - (monoMs() - t0)));
    return this.#status({ caughtUp, logLastSeq });
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'reconnect' && this.role === 'active') this.#detector.reset(monoMs());
    }
  }

  async #startHttp(): Promise<void> {
    const h = this.#o.http;
    if (!h) return;
    this.#http = createServer((req, res) => void (async () => {
      const body = req.url === '/status'
        ? await this.#statusNow()
        : req.url === '/healthz'
          ? { id: this.#o.id, role: this.role, epoch: this.epoch, caughtUp: this.caughtUp, lastSeq: this.state.lastSeq, malformed: this.malformed, forgedDuplicates: this.#executor.forgedDuplicates, unknownHeartbeats: this.unknownHeartbeats, problems: this.problems, shadowDiffs: this.#shadow.diffs, feedBehind: this.feedBehind, buffered: { events: this.#events?.getPending() ?? 0, heartbeats: this.#heartbeats?.getPending() ?? 0 }, memoryMiB: memoryMiB(), heapSpacesMiB: heapSpacesMiB() }
          : null;
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { error: 'not found; try /status or /healthz' }));
    })());
    await new Promise<void>((resolve, reject) => {
      this.#http?.once('error', reject);
      this.#http?.listen(h.port, h.host, () => resolve());
    });
  }
}
