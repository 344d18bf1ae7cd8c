import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import { AnnouncementSchema, codec, EVENTS_STREAM, StatusDocSchema, subjects, type Announcement, type StatusDoc } from '@ha/events';
import { NatsServer } from './natsServer.js';
import { RedisServer } from './redisServer.js';
import { spawnLogged, type Proc } from './processes.js';
import { freePort, until } from './ports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = {
  lca: join(ROOT, 'apps/lca/bin/lca.js'),
  scs: join(ROOT, 'apps/scs/bin/scs.js'),
  hactl: join(ROOT, 'apps/hactl/bin/hactl.js'),
} as const;

/** Short timings for tests and the demo: failures are seen within a second. */
export const FAST_TIMING = { heartbeatMs: 100, hostTimeoutMs: 600, fenceMs: 300, appPingMs: 100, appTimeoutMs: 600, leaseMs: 1200, scsTimeoutMs: 500, promoteTimeoutMs: 1500 };

export type PairSpec = { primary: string; backup: string; primaryHost: string; backupHost: string; autoSwitchover?: boolean };

export type ClusterSpec = {
  hosts: string[];
  pairs: PairSpec[];
  scs?: number;
  timing?: Partial<typeof FAST_TIMING>;
  restart?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** The command every application runs (a plain process); `{port}` is replaced by its port. */
  command?: string[];
  dir?: string;
  /** Give every SCS `--http 127.0.0.1:<free port>`. */
  scsHttp?: boolean;
  cluster?: string;
};

/** A whole cluster as separate processes: nats-server, redis-server, the real `scs` and `lca` bins. */
export class Cluster {
  readonly scs = new Map<string, Proc>();
  readonly http = new Map<string, string>();
  readonly lcas = new Map<string, Proc>();
  nc!: NatsConnection;
  #n = 0;

  private constructor(
    readonly dir: string,
    readonly nats: NatsServer,
    readonly redis: RedisServer,
    readonly configPath: string,
    readonly spec: ClusterSpec,
  ) {}

  static config(spec: ClusterSpec): Record<string, unknown> {
    const command = (port: number) => (spec.command ?? ['sleep', '100000']).map((a) => a.replace('{port}', String(port)));
    return {
      cluster: spec.cluster ?? 'test',
      timing: { ...FAST_TIMING, ...spec.timing },
      restart: { initialDelayMs: 100, maxDelayMs: 2000, maxAttempts: 0, ...spec.restart },
      hosts: spec.hosts.map((id) => ({ id })),
      applications: spec.pairs.flatMap((p, i) => [
        { id: p.primary, host: p.primaryHost, command: command(17000 + i), endpoint: `127.0.0.1:${17000 + i}`, redundancy: { backup: p.backup, autoSwitchover: p.autoSwitchover ?? true } },
        { id: p.backup, host: p.backupHost, command: command(17500 + i), endpoint: `127.0.0.1:${17500 + i}` },
      ]),
    };
  }

  /** Starts the brokers, `spec.scs` (default 2) SCS and one LCA per host; waits until every pair has its primary. */
  static async start(spec: ClusterSpec, opts: { waitReady?: boolean } = {}): Promise<Cluster> {
    const dir = spec.dir ?? mkdtempSync(join(tmpdir(), 'ha-cluster-'));
    const [nats, redis] = await Promise.all([NatsServer.start(dir), RedisServer.start(dir)]);
    const configPath = join(dir, 'cluster.json');
    writeFileSync(configPath, JSON.stringify(Cluster.config(spec), null, 2));
    const c = new Cluster(dir, nats, redis, configPath, spec);
    c.nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    for (let i = 1; i <= (spec.scs ?? 2); i++) c.startScs(`scs-${i}`, spec.scsHttp ? `127.0.0.1:${await freePort()}` : undefined);
    for (const h of spec.hosts) c.startLca(h);
    if (opts.waitReady ?? true) await c.waitReady();
    return c;
  }

  get env(): NodeJS.ProcessEnv {
    return { HA_NATS_URL: this.nats.url, HA_REDIS_URL: this.redis.url, HA_STATE_DIR: join(this.dir, 'lca-state'), HA_LOG_LEVEL: process.env['HA_LOG_LEVEL'] ?? 'info' };
  }

  startScs(id: string, http?: string): Proc {
    const p = spawnLogged(id, process.execPath, [BIN.scs, '--id', id, '--config', this.configPath, ...(http ? ['--http', http] : [])], join(this.dir, `${id}.${++this.#n}.log`), this.env);
    if (http) this.http.set(id, http);
    this.scs.set(id, p);
    return p;
  }

  startLca(host: string): Proc {
    const p = spawnLogged(`lca-${host}`, process.execPath, [BIN.lca, '--host', host], join(this.dir, `lca-${host}.${++this.#n}.log`), this.env);
    this.lcas.set(host, p);
    return p;
  }

  async status(timeoutMs = 1000): Promise<StatusDoc> {
    const m = await this.nc.request(subjects.status, codec.encode({}), { timeout: timeoutMs });
    return StatusDocSchema.parse(JSON.parse(m.string()));
  }

  /** Waits until `pred` holds for the status view, re-checking on every event and every 50 ms. */
  async waitStatus<T>(what: string, pred: (s: StatusDoc) => T | undefined | false, timeoutMs = 15_000): Promise<T> {
    return until(what, async () => pred(await this.status(500)), timeoutMs, 25);
  }

  async waitReady(timeoutMs = 20_000): Promise<StatusDoc> {
    return this.waitStatus('every pair to have its configured primary and every backup started', (s) =>
      s.scs.acting === true &&
      s.pairs.length === this.spec.pairs.length &&
      s.pairs.every((p) => p.current === p.primary && p.state === 'ok') &&
      s.applications.every((a) => a.status === 'started') &&
      s.hosts.every((h) => h.lca === 'up') ? s : undefined,
    timeoutMs);
  }

  /** Resolves with the next announcement stored for `pair` (subscribe before causing it). */
  nextSwitchover(pair: string, timeoutMs = 15_000): Promise<Announcement & { receivedAt: bigint }> {
    const sub = this.nc.subscribe(subjects.switchover(pair), { max: 1, timeout: timeoutMs });
    return (async () => {
      for await (const m of sub) return { ...AnnouncementSchema.parse(JSON.parse(m.string())), receivedAt: process.hrtime.bigint() };
      throw new Error(`no switchover announced for ${pair}`);
    })();
  }

  app(s: StatusDoc, id: string) {
    const a = s.applications.find((x) => x.id === id);
    if (!a) throw new Error(`no application ${id} in status`);
    return a;
  }

  /** Every message of HA_EVENTS, parsed as JSON, with its sequence and subject. */
  async events(): Promise<{ seq: number; subject: string; at: number; data: Record<string, unknown> }[]> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(EVENTS_STREAM);
    const last = info.state.last_seq;
    const out: { seq: number; subject: string; at: number; data: Record<string, unknown> }[] = [];
    if (last === 0) return out;
    const c = await jetstream(this.nc).consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
    const msgs = await c.consume();
    for await (const m of msgs) {
      let data: Record<string, unknown>;
      try { data = m.json(); } catch { data = { raw: m.string() }; }
      out.push({ seq: m.seq, subject: m.subject, at: Number(m.timestampNanos / 1_000_000n), data });
      if (m.seq >= last) break;
    }
    await msgs.close();
    return out;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.lcas.values()].map((p) => p.stop('SIGTERM')));
    await Promise.all([...this.scs.values()].map((p) => p.stop('SIGTERM')));
    await this.nc?.close().catch(() => undefined);
    await Promise.all([this.nats.stop(), this.redis.stop()]);
  }
}

/** True while `pid` exists (signal 0). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
