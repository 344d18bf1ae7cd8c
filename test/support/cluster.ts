import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { authOptions, readNkeySeed } from '@ha/bus';
import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import { AnnouncementSchema, codec, EVENTS_STREAM, StatusDocSchema, subjects, type Announcement, type StatusDoc } from '@ha/events';
import { NatsServer, type NatsServerOptions } from './natsServer.js';
import { RedisServer } from './redisServer.js';
import { spawnLogged, type Proc } from './processes.js';
import { saveEvidence } from './evidence.js';
import { freePort, freePortBlock, until } from './ports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = {
  lca: join(ROOT, 'apps/lca/bin/lca.js'),
  scs: join(ROOT, 'apps/scs/bin/scs.js'),
  hactl: join(ROOT, 'apps/hactl/bin/hactl.js'),
} as const;

/** Where a secure cluster's identities are, under its directory. */
const IDENTITIES = 'identities';

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
  /** Extra fields for every application (e.g. `probe: { kind: 'sdk' }`), or per application id. */
  app?: (id: string, port: number) => Record<string, unknown>;
  /** Redundancy fields added to every pair (e.g. `whenAgentLost: 'keep-serving'`). */
  redundancy?: Record<string, unknown>;
  /** First application port; by default a free range is chosen per cluster. */
  portBase?: number;
  /** Options of the cluster's nats-server (a configuration file with users, for instance). */
  nats?: NatsServerOptions;
  /**
   * Identities on the bus (DESIGN 3b): `hactl secure init` writes them to `<dir>/identities`, the
   * nats-server includes its `auth.conf`, and every process connects with its own `--nkey`.
   */
  secure?: boolean;
};

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
    readonly config: Record<string, unknown>,
  ) {}

  /** The endpoint (`host:port`) of an application in this cluster's configuration. */
  endpoint(app: string): string {
    const a = (this.config['applications'] as { id: string; endpoint: string }[]).find((x) => x.id === app);
    if (!a) throw new Error(`no application ${app}`);
    return a.endpoint;
  }

  /**
   * `{port}`, `{id}` and `{dir}` in the command are replaced per application. Ports are
   * `portBase + i` for primaries and `portBase + 500 + i` for backups.
   */
  static config(spec: ClusterSpec, dir = '', portBase = spec.portBase ?? 17000): Record<string, unknown> {
    const cmd = (id: string, port: number) => (spec.command ?? ['sleep', '100000']).map((a) => a.replace('{port}', String(port)).replace('{id}', id).replace('{dir}', dir));
    return {
      cluster: spec.cluster ?? 'test',
      timing: { ...FAST_TIMING, ...spec.timing },
      restart: { initialDelayMs: 100, maxDelayMs: 2000, maxAttempts: 0, ...spec.restart },
      hosts: spec.hosts.map((id) => ({ id })),
      applications: spec.pairs.flatMap((p, i) => [
        { id: p.primary, host: p.primaryHost, command: cmd(p.primary, portBase + i), endpoint: `127.0.0.1:${portBase + i}`, redundancy: { backup: p.backup, autoSwitchover: p.autoSwitchover ?? true, ...spec.redundancy }, ...spec.app?.(p.primary, portBase + i) },
        { id: p.backup, host: p.backupHost, command: cmd(p.backup, portBase + 500 + i), endpoint: `127.0.0.1:${portBase + 500 + i}`, ...spec.app?.(p.backup, portBase + 500 + i) },
      ]),
    };
  }

  /** Starts the brokers, `spec.scs` (default 2) SCS and one LCA per host; waits until every pair has its primary. */
  /** Per-host NATS URL for LCAs (a proxy the test controls), set in `opts.prepare`. */
  readonly lcaUrls = new Map<string, string>();

  static async start(spec: ClusterSpec, opts: { waitReady?: boolean; prepare?: (c: Cluster) => Promise<void> } = {}): Promise<Cluster> {
    const dir = spec.dir ?? mkdtempSync(join(tmpdir(), 'ha-cluster-'));
    const configPath = join(dir, 'cluster.json');
    const config = Cluster.config(spec, dir, spec.portBase ?? (await freePortBlock()));
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    let natsOpts = spec.nats;
    if (spec.secure) {
      execFileSync(process.execPath, [BIN.hactl, 'secure', 'init', '--config', configPath, '--out', join(dir, IDENTITIES)], { stdio: 'ignore' });
      natsOpts = { ...spec.nats, extra: `${spec.nats?.extra ?? ''}\ninclude "${IDENTITIES}/auth.conf"\n` };
    }
    const redisArgs = spec.secure ? ['--aclfile', join(dir, IDENTITIES, 'redis-users.acl')] : [];
    const [nats, redis] = await Promise.all([NatsServer.start(dir, natsOpts), RedisServer.start(dir, redisArgs)]);
    const c = new Cluster(dir, nats, redis, configPath, spec, config);
    if (spec.secure) nats.evidenceAuth = authOptions(readNkeySeed(c.seedFile('admin'), () => undefined), [nats.url]);
    c.nc = await c.connectAs('admin', { maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    for (let i = 1; i <= (spec.scs ?? 2); i++) c.startScs(`scs-${i}`, spec.scsHttp ? `127.0.0.1:${await freePort()}` : undefined);
    try {
      await opts.prepare?.(c);
      for (const h of spec.hosts) c.startLca(h);
      if (opts.waitReady ?? true) await c.waitReady();
    } catch (e) {
      // A cluster that did not come up leaves nothing running, and its evidence behind.
      await saveEvidence(nats.url, dir, nats.evidenceAuth);
      await c.stop();
      throw new Error(`${(e as Error).message} (logs in ${dir})`);
    }
    return c;
  }

  /** The seed file of an identity (`host-<id>`, `scs`, `operator`, `reader`, `admin`) of a secure cluster. */
  seedFile(identity: string): string {
    if (!this.spec.secure) throw new Error('this cluster has no identities (spec.secure)');
    return join(this.dir, IDENTITIES, `${identity}.nk`);
  }

  /**
   * What the product's own processes were refused by the broker (the server logs `Publish
   * Violation - Nkey "U...", Subject "..."` and `Subscription Violation` with the client's name).
   * An LCA that starts before the SCS made the streams tries to make them and is refused: that is
   * expected and left out; nothing else may be there.
   */
  permissionViolations(): string[] {
    return readFileSync(this.nats.logFile, 'utf8')
      .split('\n')
      .filter((l) => /"v[\d.]+:nats\.js:(lca-|scs:)[^"]*" - (Publish|Subscription) Violation/.test(l))
      .filter((l) => !/lca-host-.*Publish Violation.*Subject "\$JS\.API\.STREAM\.CREATE\./.test(l));
  }

  /** `--nkey <file>` for an identity when the cluster is secure, nothing otherwise. */
  nkeyArgs(identity: string): string[] {
    return this.spec.secure ? ['--nkey', this.seedFile(identity)] : [];
  }

  /** A connection as `identity` (anonymous when the cluster is not secure). */
  async connectAs(identity: string, more: { maxReconnectAttempts?: number; reconnectTimeWait?: number } = {}): Promise<NatsConnection> {
    const auth = this.spec.secure ? readNkeySeed(this.seedFile(identity), () => undefined) : {};
    return connect({ ...authOptions(auth, [this.nats.url]), ...more });
  }

  /** The Redis URL with the credentials of a Redis ACL user (`scs`, `admin`) of a secure cluster; plain otherwise. */
  redisUrlAs(user: 'scs' | 'admin'): string {
    if (!this.spec.secure) return this.redis.url;
    const line = readFileSync(join(this.dir, IDENTITIES, 'redis-passwords'), 'utf8').split('\n').find((l) => l.startsWith(`${user} `));
    if (!line) throw new Error(`no Redis password for ${user}`);
    return this.redis.url.replace('redis://', `redis://${user}:${encodeURIComponent(line.slice(user.length + 1))}@`);
  }

  get env(): NodeJS.ProcessEnv {
    // a secure cluster's SCS reads its Redis password from the file secure init wrote, not from the URL
    const redis = this.spec.secure ? { HA_REDIS_URL: this.redis.url, HA_REDIS_PASSWORD_FILE: join(this.dir, IDENTITIES, 'redis-passwords') } : { HA_REDIS_URL: this.redis.url };
    return { HA_NATS_URL: this.nats.url, ...redis, HA_STATE_DIR: join(this.dir, 'lca-state'), HA_LOG_LEVEL: process.env['HA_LOG_LEVEL'] ?? 'info' };
  }

  /** Starts an SCS; `natsUrl` lets a test give it a NATS user of its own. */
  startScs(id: string, http?: string, natsUrl?: string): Proc {
    const env = natsUrl ? { ...this.env, HA_NATS_URL: natsUrl } : this.env;
    const p = spawnLogged(id, process.execPath, [BIN.scs, '--id', id, '--config', this.configPath, ...this.nkeyArgs('scs'), ...(http ? ['--http', http] : [])], join(this.dir, `${id}.${++this.#n}.log`), env);
    if (http) this.http.set(id, http);
    this.scs.set(id, p);
    return p;
  }

  /** Starts the LCA of `host`; `natsUrl` lets a test route it through a proxy it controls. */
  startLca(host: string, natsUrl?: string): Proc {
    const url = natsUrl ?? this.lcaUrls.get(host);
    const env = url ? { ...this.env, HA_NATS_URL: url } : this.env;
    const p = spawnLogged(`lca-${host}`, process.execPath, [BIN.lca, '--host', host, ...this.nkeyArgs(`host-${host}`)], join(this.dir, `lca-${host}.${++this.#n}.log`), env);
    this.lcas.set(host, p);
    return p;
  }

  /** The status view: from the first SCS to answer, or from the SCS named. */
  async status(timeoutMs = 1000, scs?: string): Promise<StatusDoc> {
    const m = await this.nc.request(scs === undefined ? subjects.status : subjects.statusOf(scs), codec.encode({}), { timeout: timeoutMs });
    return StatusDocSchema.parse(JSON.parse(m.string()));
  }

  /** Waits until `pred` holds for the status view, re-checking on every event and every 50 ms. */
  async waitStatus<T>(what: string, pred: (s: StatusDoc) => T | undefined | false, timeoutMs = 15_000): Promise<T> {
    return until(what, async () => pred(await this.status(500)), timeoutMs, 25);
  }

  async waitReady(timeoutMs = 20_000): Promise<StatusDoc> {
    const s = await this.waitStatus('every pair to have its configured primary and every backup started', (st) =>
      st.scs.acting === true &&
      st.pairs.length === this.spec.pairs.length &&
      st.pairs.every((p) => p.current === p.primary && p.state === 'ok') &&
      st.applications.every((a) => a.status === 'started') &&
      st.hosts.every((h) => h.lca === 'up') ? st : undefined,
    timeoutMs);
    // A cluster that answers can still be short of a process (an SCS that could not bind its HTTP
    // port exits, and its peer leads alone): every test then starts from the cluster it asked for.
    const gone = [...this.scs.values(), ...this.lcas.values()].filter((p) => !p.running);
    if (gone.length > 0) throw new Error(`the cluster came up without ${gone.map((p) => `${p.name} (see ${p.logFile})`).join(', ')}`);
    return s;
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
    await Promise.all([...this.lcas.values()].map((p) => p.stop('SIGINT'))); // SIGTERM would drain
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
