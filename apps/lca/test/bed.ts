/**
 * Test bed for the LCA: a throw-away nats-server, the real `lca` bin, and helpers with which a test
 * plays the SCS (claims, ConfigApplied, commands) and reads what the LCA stored in the log.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ensureStreams, lastOnSubject, openPrimaries, type KV, type NatsConnection } from '@ha/bus';
import {
  EVENTS_STREAM,
  HEARTBEATS_STREAM,
  LcaEventSchema,
  codec,
  parseHeartbeat,
  parseInput,
  parseWith,
  subjects,
  validateConfig,
  type AppCommand,
  type CommandAction,
  type Heartbeat,
  type LcaEvent,
} from '@ha/events';
import { NatsServer, spawnLogged, until, type Proc } from '@ha/test';

const parseLcaEvent = parseWith(LcaEventSchema);
const here = dirname(fileURLToPath(import.meta.url));
export const LCA_BIN = resolve(here, '../bin/lca.js');

export const TIMING = { heartbeatMs: 100, hostTimeoutMs: 600, fenceMs: 300 } as const;

export type AppSpec = {
  id: string;
  host: string;
  command?: string[];
  redundancy?: { backup: string };
};

export type StoredEvent<E extends LcaEvent = LcaEvent> = { seq: number; subject: string; event: E };

/** True while the process exists and is not a zombie. */
export const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
};

const startTime = (pid: number): string | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
};

export const sleepApp = (): string[] => ['sleep', '1000'];

export const clusterConfig = (apps: AppSpec[], hosts: string[]) => {
  const r = validateConfig({
    cluster: 'test',
    timing: TIMING,
    hosts: hosts.map((id) => ({ id })),
    applications: apps.map((a) => ({
      id: a.id,
      host: a.host,
      command: a.command ?? sleepApp(),
      ...(a.redundancy ? { redundancy: { backup: a.redundancy.backup } } : {}),
    })),
  });
  if (!r.ok) throw new Error(`bad test config: ${r.errors.join('; ')}`);
  return r.config;
};

/** Reads the LCA events of one host from `HA_EVENTS`, by sequence, as far as the log goes. */
export class EventLog {
  readonly events: StoredEvent[] = [];
  #next = 1;
  constructor(
    private readonly jsm: JetStreamManager,
    readonly host: string,
  ) {}

  async poll(): Promise<StoredEvent[]> {
    const info = await this.jsm.streams.info(EVENTS_STREAM);
    for (; this.#next <= info.state.last_seq; this.#next++) {
      const sm = await this.jsm.streams.getMessage(EVENTS_STREAM, { seq: this.#next });
      if (!sm || !sm.subject.startsWith(`ha.evt.host.${this.host}.`)) continue;
      const r = parseInput(sm.subject, sm.data);
      if (!r.ok) throw new Error(`LCA stored a malformed event at ${sm.seq}: ${r.error}`);
      const e = parseLcaEvent(sm.data);
      if (!e.ok) throw new Error(`not an LCA event at ${sm.seq}: ${e.error}`);
      this.events.push({ seq: sm.seq, subject: sm.subject, event: e.value });
    }
    return this.events;
  }

  /** Waits for an event stored after `afterSeq` that matches. */
  async waitFor<T extends LcaEvent['type']>(
    type: T,
    pred: (e: Extract<LcaEvent, { type: T }>) => boolean = () => true,
    opts: { afterSeq?: number; timeoutMs?: number } = {},
  ): Promise<StoredEvent<Extract<LcaEvent, { type: T }>>> {
    return until(
      `${type} of ${this.host}`,
      async () => {
        await this.poll();
        return this.events.find(
          (s): s is StoredEvent<Extract<LcaEvent, { type: T }>> =>
            s.seq > (opts.afterSeq ?? 0) && s.event.type === type && pred(s.event as Extract<LcaEvent, { type: T }>),
        );
      },
      opts.timeoutMs ?? 10_000,
      25,
    );
  }

  of<T extends LcaEvent['type']>(type: T): StoredEvent<Extract<LcaEvent, { type: T }>>[] {
    return this.events.filter((s): s is StoredEvent<Extract<LcaEvent, { type: T }>> => s.event.type === type);
  }
}

export class Bed {
  readonly procs: Proc[] = [];
  readonly appPids = new Set<number>();
  #cmd = 0;
  private constructor(
    readonly nats: NatsServer,
    readonly dir: string,
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly kv: KV,
  ) {}

  static async start(): Promise<Bed> {
    const dir = mkdtempSync(join(tmpdir(), 'ha-lca-test-'));
    const nats = await NatsServer.start(dir);
    // The test's own connection survives NatsServer.stop()/restart().
    const nc = await connect({ servers: nats.url, name: 'lca-test', maxReconnectAttempts: -1, reconnectTimeWait: 100, timeout: 2000 });
    await ensureStreams(nc);
    // Short API timeouts: a request sent while the test restarts nats-server fails fast and is retried.
    const jsm = await jetstreamManager(nc, { timeout: 1000 });
    return new Bed(nats, dir, nc, jetstream(nc, { timeout: 1000 }), jsm, await openPrimaries(nc));
  }

  get stateDir(): string {
    return join(this.dir, 'state');
  }

  log(host: string): EventLog {
    return new EventLog(this.jsm, host);
  }

  spawnLca(host: string, extra: string[] = [], name = `lca-${host}`): Proc {
    const logFile = join(this.dir, `${name}-${this.procs.length}.log`);
    const p = spawnLogged(name, process.execPath, [LCA_BIN, '--host', host, '--nats', this.nats.url, '--state-dir', this.stateDir, ...extra], logFile, {
      HA_LOG_LEVEL: 'debug',
    });
    this.procs.push(p);
    return p;
  }

  /** Waits until the LCA's log file has a line matching. */
  async waitForLog(p: Proc, re: RegExp, timeoutMs = 10_000): Promise<string> {
    return until(`log line ${re} of ${p.name}`, () => {
      if (!existsSync(p.logFile)) return undefined;
      return readFileSync(p.logFile, 'utf8').split('\n').find((l) => re.test(l));
    }, timeoutMs, 25);
  }

  /** Appends a leadership claim; its sequence is the new epoch. */
  async claim(scs = 'scs-test'): Promise<number> {
    const pa = await this.js.publish(subjects.claim, codec.encode({ type: 'ScsClaimed', v: 1, scs, deciderVersion: 1 }));
    return pa.seq;
  }

  async applyConfig(epoch: number, apps: AppSpec[], hosts: string[]): Promise<number> {
    const config = clusterConfig(apps, hosts);
    const pa = await this.js.publish(subjects.config, codec.encode({ type: 'ConfigApplied', v: 1, epoch, scs: 'scs-test', config }));
    return pa.seq;
  }

  async command(
    host: string,
    app: string,
    action: CommandAction,
    t: { epoch: number; lca: number; incarnation: number | null; causeSeq?: number },
  ): Promise<string> {
    const id = `cmd:test:${++this.#cmd}`;
    const cmd: AppCommand = { type: 'AppCommand', v: 1, id, epoch: t.epoch, host, app, action, lca: t.lca, incarnation: t.incarnation, causeSeq: t.causeSeq ?? 1 };
    await this.js.publish(subjects.command(host, app), codec.encode(cmd));
    return id;
  }

  async publishRaw(subject: string, data: Uint8Array): Promise<number> {
    return (await this.js.publish(subject, data)).seq;
  }

  async heartbeat(host: string): Promise<Heartbeat | null> {
    const sm = await lastOnSubject(this.jsm, HEARTBEATS_STREAM, subjects.heartbeat(host));
    if (!sm) return null;
    const r = parseHeartbeat(sm.data);
    if (!r.ok) throw new Error(`malformed heartbeat: ${r.error}`);
    return r.value;
  }

  async waitForHeartbeat(host: string, pred: (hb: Heartbeat) => boolean, timeoutMs = 10_000): Promise<Heartbeat> {
    return until(`heartbeat of ${host}`, async () => {
      const hb = await this.heartbeat(host);
      return hb && pred(hb) ? hb : undefined;
    }, timeoutMs, 25);
  }

  /** Remembers application pids so that cleanup can end them even when a test fails. */
  track(pids: Iterable<number>): void {
    for (const p of pids) this.appPids.add(p);
  }

  async close(): Promise<void> {
    for (const p of this.procs) {
      try {
        p.signal('SIGCONT');
      } catch {
        // already gone
      }
    }
    await Promise.all(this.procs.map((p) => p.stop('SIGKILL', 1000)));
    // Whatever an LCA recorded in its pidfiles (a test that failed before it learnt the pids).
    for (const host of existsSync(this.stateDir) ? readdirSync(this.stateDir) : []) {
      const apps = join(this.stateDir, host, 'apps');
      for (const f of existsSync(apps) ? readdirSync(apps) : []) {
        const [p, start] = readFileSync(join(apps, f), 'utf8').trim().split(' ');
        const pid = Number(p);
        if (Number.isInteger(pid) && pid > 0 && start === startTime(pid)) this.appPids.add(pid);
      }
    }
    for (const pid of this.appPids) {
      try {
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await this.nc.close().catch(() => undefined);
    await this.nats.stop();
  }
}
