import { randomBytes } from 'node:crypto';
import { jetstream, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV, Logger, NatsAuth, NatsConnection } from '@ha/bus';
import { connectForever, ensureStreams, monoMs, openPrimaries, sleep } from '@ha/bus';
import { TimingSchema, type ClusterConfig } from '@ha/events';
import { ClaimTracker } from './claims.js';
import { OwnObservations } from './observations.js';
import { CommandConsumer, CommandProcessor } from './commands.js';
import { ConfigSource } from './configSource.js';
import { HeartbeatLoop, type ResumeCause } from './heartbeat.js';
import { Outbox } from './outbox.js';
import { endLeftovers, removeFile, writePidfile, type StateDir } from './pidfiles.js';
import { demoteAll, demoteIfDeclaredLost, demoteReplacedPrimaries } from './primaries.js';
import { Supervisor } from './supervisor.js';
import { AppLinks } from './appLink.js';
import { Drain } from './drain.js';
import { RoleHooks } from './hooks.js';
import { ProbeManager } from './probes.js';

export type LcaOptions = Readonly<{
  host: string;
  natsUrl: string;
  /** `--nkey` / `--tls-*`; none: an anonymous connection. */
  natsAuth?: NatsAuth;
  dir: StateDir;
  /** `--config`: used only until the log holds a `ConfigApplied`. */
  fileConfig: ClusterConfig | null;
  log: Logger;
}>;

/** Heartbeats before any configuration is known. */
const INITIAL_TIMING = { heartbeatMs: 250, hostTimeoutMs: TimingSchema.parse({}).hostTimeoutMs };
/** Bound on flushing the last events at shutdown. */
const SHUTDOWN_FLUSH_MS = 2000;

const withTimeout = async (p: Promise<unknown>, ms: number): Promise<void> => {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
};

/** The local control agent of one host: wires the outbox, supervisor, heartbeat, configuration and commands. */
export class Lca {
  readonly bootId = randomBytes(8).toString('hex');
  #stopping = false;
  #connected = false;
  #nc: NatsConnection | undefined;
  #kv: KV | undefined;
  #outbox: Outbox | undefined;
  #supervisor: Supervisor | undefined;
  #heartbeat: HeartbeatLoop | undefined;
  #configSource: ConfigSource | undefined;
  #commands: CommandConsumer | undefined;
  #claims: ClaimTracker | undefined;
  #own: OwnObservations | undefined;
  /** Event number of this incarnation's last stored LcaResumed. */
  #resumedN = 0;
  #lastCheckStart: number | null = null;
  #config: ClusterConfig | null = null;
  #checking: Promise<void> | undefined;
  #jsm: JetStreamManager | undefined;
  #disconnectedAt: number | null = null;
  #probes: ProbeManager | undefined;
  #links: AppLinks | undefined;
  #drain: Drain | undefined;
  #terminating: Promise<void> | undefined;

  constructor(private readonly o: LcaOptions) {}

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Monotonic time at which JetStream last stored this LCA's heartbeat (for self-fencing), null before. */
  get lastHeartbeatStoredMono(): number | null {
    return this.#heartbeat?.lastStoredMono ?? null;
  }

  async run(): Promise<void> {
    const { host, dir, log } = this.o;
    dir.create();
    const ended = await endLeftovers(dir, log);
    writePidfile(dir.lcaPidfile, process.pid, 'as-now');
    log.info({ bootId: this.bootId, stateDir: dir.root, ended }, 'LCA starting');

    const nc = await connectForever(this.o.natsUrl, `lca-${host}`, log, () => this.#stopping, this.o.natsAuth);
    this.#nc = nc;
    this.#connected = true;
    void this.#watchStatus(nc);
    if (this.#stopping) return;
    const jsm = await this.#retry('create the streams', () => ensureStreams(nc));
    this.#jsm = jsm;
    this.#kv = await this.#retry('open the primaries bucket', () => openPrimaries(nc));
    if (this.#stopping) return;
    const js: JetStreamClient = jetstream(nc);

    const outbox = new Outbox(js, host, log, this.bootId, 2000, jsm);
    this.#outbox = outbox;
    const supervisor = new Supervisor(dir, outbox, log);
    this.#supervisor = supervisor;
    this.#probes = new ProbeManager(supervisor, outbox, log);
    const links = new AppLinks({
      supervisor,
      outbox,
      log,
      config: () => this.#config,
      socketPath: (app) => dir.appSocket(app),
      mayLease: () => this.#connected && this.#checking === undefined,
    });
    supervisor.onStart((m, run) => links.attach(m, run));
    this.#links = links;
    const claims = new ClaimTracker(js, jsm, log);
    claims.start();
    this.#claims = claims;
    const commands = new CommandConsumer(host, js, jsm, new CommandProcessor(host, jsm, supervisor, outbox, log, claims, this.#roleHooks(), links), log);
    this.#commands = commands;
    await this.#retry('create the command consumer', () => commands.ensureConsumer());
    if (this.#stopping) return;
    const started = outbox.publish(() => ({ type: 'LcaStarted', pid: process.pid, bootId: this.bootId, ended }));

    this.#heartbeat = new HeartbeatLoop(
      js,
      host,
      {
        incarnation: () => outbox.incarnation,
        lastStoredN: () => outbox.lastStoredN,
        apps: () => supervisor.snapshot(),
        connected: () => this.#connected,
        resuming: () => this.#checking,
        lastCheckStart: () => this.#lastCheckStart,
      },
      log,
      INITIAL_TIMING,
      (gapMs, cause) => this.resumed(cause, gapMs),
    );
    this.#heartbeat.onStored = (sentMono) => links.heartbeatStored(sentMono);
    this.#heartbeat.start();

    this.#own = new OwnObservations(
      js,
      host,
      () => ({ lca: outbox.incarnation, resumedN: this.#resumedN }),
      (ev) => {
        const demoted = demoteAll(supervisor, outbox, ev.epoch);
        this.#links?.reconcileAll();
        if (demoted.length > 0) log.warn({ demoted, silenceMs: ev.silenceMs, epoch: ev.epoch }, 'this host was declared lost: its primaries demoted at once');
      },
      log,
    );
    this.#own.start();
    this.#configSource = new ConfigSource(js, jsm, log, (c, seq) => this.applyConfig(c.config, `log seq ${seq}`));
    const found = await this.#configSource.start();
    if (this.#stopping) return;
    if (!found) {
      if (this.o.fileConfig) this.applyConfig(this.o.fileConfig, 'file');
      else log.info('waiting for configuration');
    }

    const stored = await started;
    log.info({ incarnation: stored.seq }, 'LCA incarnation stored');
    if (this.#stopping) return;
    commands.start();
  }

  /** Starts this host's configured applications that are not running; stops those no longer configured. */
  applyConfig(config: ClusterConfig, source: string): void {
    const { host, log } = this.o;
    const supervisor = this.#supervisor;
    if (!supervisor || this.#stopping) return;
    this.#config = config;
    this.#heartbeat?.setTiming(config.timing);
    if (!config.hosts.some((h) => h.id === host)) log.warn({ source }, `host ${host} is not in the configuration`);
    const mine = config.applications.filter((a) => a.host === host);
    log.info({ source, cluster: config.cluster, apps: mine.map((a) => a.id) }, 'configuration applied');
    for (const m of supervisor.configure(mine)) void supervisor.stop(m.id);
    this.#probes?.reconfigure();
    if (this.#drain) return;
    for (const a of mine) if (!supervisor.get(a.id)?.run) supervisor.start(a.id, null);
  }

  #roleHooks(): RoleHooks {
    return new RoleHooks({
      dir: this.o.dir,
      timing: () => this.#config?.timing ?? TimingSchema.parse({}),
      draining: () => this.#drain !== undefined,
      log: this.o.log,
    });
  }

  /**
   * A stop signal. SIGTERM drains first (drain.ts): `LcaDraining`, then commands are carried out
   * until nothing here is primary or the drain bound passed. Any other signal, or a second signal
   * during the drain, stops at once (`LcaStopped` with `drained: false`). Every call returns the
   * same promise.
   */
  terminate(signal: string): Promise<void> {
    if (this.#terminating) {
      this.#drain?.interrupt();
      return this.#terminating;
    }
    const outbox = this.#outbox;
    const supervisor = this.#supervisor;
    this.#terminating = (async () => {
      let drained = false;
      if (signal === 'SIGTERM' && outbox && supervisor && !this.#stopping) {
        this.o.log.info({ signal }, 'LCA draining');
        this.#drain = new Drain({ outbox, supervisor, timing: () => this.#config?.timing ?? TimingSchema.parse({}), log: this.o.log });
        drained = (await this.#drain.run()) !== 'interrupted';
      }
      await this.shutdown(signal, drained);
    })();
    return this.#terminating;
  }

  /**
   * Back from a freeze or an outage: first demote every local primary that the KV says was replaced,
   * then record `LcaResumed` and demote every local primary if the host was declared lost before it.
   */
  resumed(cause: ResumeCause, gapMs: number): Promise<void> {
    if (this.#checking) return this.#checking;
    const kv = this.#kv;
    const jsm = this.#jsm;
    const supervisor = this.#supervisor;
    const outbox = this.#outbox;
    const { host, log } = this.o;
    if (!kv || !jsm || !supervisor || !outbox || this.#stopping) return Promise.resolve();
    this.#lastCheckStart = monoMs();
    this.#checking = (async () => {
      // A check that failed (JetStream still recovering, NATS gone again) is not a check: no lease is
      // granted and no heartbeat stored until one succeeds (decision 0003).
      for (let attempt = 1; !this.#stopping; attempt++) {
        try {
          const replaced = await demoteReplacedPrimaries(kv, this.#config, supervisor, outbox, log);
          const stored = await outbox.publish(() => ({ type: 'LcaResumed', gapMs: Math.max(0, Math.round(gapMs)), cause }));
          this.#resumedN = stored.event.n;
          const lost = await demoteIfDeclaredLost(jsm, host, outbox.incarnation, stored.seq, supervisor, outbox, log);
          this.#links?.reconcileAll();
          log.info({ cause, gapMs, attempt, demoted: replaced + lost, resumedSeq: stored.seq }, 'resumed: primaries checked');
          return;
        } catch (e) {
          if (attempt === 1) log.warn({ cause, err: (e as Error).message }, 'cannot check primaries after resuming; retrying, no lease meanwhile');
          await sleep(Math.min(50 * attempt, 250));
        }
      }
    })().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /**
   * Stops every application, records `LcaStopped`, flushes the events (bounded), removes the
   * pidfile. Heartbeats go on until `LcaStopped` is stored, so that the host is not declared lost.
   */
  async shutdown(signal: string, drained = false): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const { log, dir } = this.o;
    log.info({ signal, drained }, 'LCA stopping');
    await withTimeout(Promise.all([this.#commands?.stop(), this.#configSource?.stop(), this.#claims?.stop(), this.#own?.stop()]), 1000);
    this.#probes?.stopAll();
    await this.#supervisor?.stopAll();
    this.#links?.closeAll();
    void this.#outbox?.publish(() => ({ type: 'LcaStopped', drained }), () => this.#heartbeat?.stop()).catch(() => undefined);
    if (this.#outbox && this.#connected) {
      const flushed = await this.#outbox.flush(SHUTDOWN_FLUSH_MS);
      if (!flushed) log.warn({ pending: this.#outbox.pending }, 'events not stored before exit');
    }
    this.#heartbeat?.stop();
    this.#outbox?.close();
    removeFile(dir.lcaPidfile);
    if (this.#nc) await withTimeout(this.#nc.close(), 1000);
    log.info('LCA stopped');
  }

  async #watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.#connected = false;
        this.#disconnectedAt ??= monoMs();
      } else if (s.type === 'reconnect') {
        this.#connected = true;
        const gap = this.#disconnectedAt === null ? 0 : monoMs() - this.#disconnectedAt;
        this.#disconnectedAt = null;
        this.#outbox?.nudge();
        this.#commands?.restart();
        this.#configSource?.restart();
        this.#claims?.restart();
        this.#own?.restart();
        void this.resumed('reconnected', gap);
      }
    }
  }

  async #retry<T>(what: string, f: () => Promise<T>): Promise<T> {
    let said = false;
    for (;;) {
      try {
        return await f();
      } catch (e) {
        if (this.#stopping) throw e;
        if (!said) this.o.log.warn({ err: (e as Error).message }, `cannot ${what}; retrying`);
        said = true;
        await sleep(250);
      }
    }
  }
}

export type { JetStreamManager };
