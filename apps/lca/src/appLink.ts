import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '@ha/bus';
import { monoMs } from '@ha/bus';
import {
  AppToLcaSchema,
  TimingSchema,
  type AppCommand,
  type ClusterConfig,
  type CommandRefused,
  type LcaToApp,
  type Role,
  type Timing,
} from '@ha/events';
import type { Outbox } from './outbox.js';
import { isAlive } from './procfs.js';
import type { ManagedApp, Run, Supervisor } from './supervisor.js';

/** An SDK application that has not said hello within this many `appTimeoutMs` is hung. */
export const HELLO_TIMEOUTS = 10;
/** Longest line accepted from an application; the rest of a longer one is skipped. */
const MAX_LINE = 64 * 1024;

/** How a role change asked of an SDK application ended. */
export type RoleOutcome = Readonly<{ ok: true }> | Readonly<{ ok: false; kind: CommandRefused['kind']; reason: string }>;

export type AppLinkDeps = Readonly<{
  supervisor: Pick<Supervisor, 'fail'>;
  outbox: Pick<Outbox, 'publish'>;
  log: Logger;
  config: () => ClusterConfig | null;
  socketPath: (app: string) => string;
  /**
   * Whether a lease may be granted now: the LCA is connected and no resume check is under way
   * (DESIGN note 0003: nothing counts as renewed before the check).
   */
  mayLease: () => boolean;
}>;

/** What an SDK application's pair asks of it: whom to ask in the peer check, and how its lease works. */
type PairTerms = Readonly<{ peer: string | null; peerCheck: boolean; fence: boolean }>;

const pairTerms = (config: ClusterConfig | null, app: string): PairTerms => {
  const head = config?.applications.find((a) => a.redundancy && (a.id === app || a.redundancy.backup === app));
  if (!config || !head?.redundancy) return { peer: null, peerCheck: false, fence: true };
  const other = head.id === app ? head.redundancy.backup : head.id;
  const keepServing = head.redundancy.whenAgentLost === 'keep-serving';
  return { peer: config.applications.find((a) => a.id === other)?.endpoint ?? null, peerCheck: keepServing, fence: !keepServing };
};

/**
 * The LCA's side of the SDK protocol (`libs/events/src/agent.ts`) for applications with
 * `probe.kind: sdk`: one Unix socket server per run at `HA_LCA_SOCKET`, pings, status reports, role
 * changes confirmed by the application, and the primary lease after every stored heartbeat.
 */
export class AppLinks {
  readonly #links = new Map<string, AppLink>();
  /** Monotonic time at which the last stored heartbeat was sent. */
  #heartbeatSent: number | null = null;

  constructor(private readonly d: AppLinkDeps) {}

  /** Supervisor start listener: opens the link of an SDK application's new run. */
  attach(m: ManagedApp, run: Run): void {
    if (m.config.probe.kind !== 'sdk') return;
    this.#links.get(m.id)?.close('replaced');
    const link = new AppLink(m, run, this.d, (ttlFor) => this.#leaseTtl(ttlFor));
    this.#links.set(m.id, link);
    void run.exited.then(() => {
      link.close('exited');
      if (this.#links.get(m.id) === link) this.#links.delete(m.id);
    });
  }

  /** Whether role changes of this application go through its SDK link. */
  handles(m: ManagedApp): boolean {
    return m.config.probe.kind === 'sdk';
  }

  /**
   * Asks the application to take `role` and resolves when it confirmed, refused, or did not answer
   * within `promoteTimeoutMs`. The caller publishes `AppRoleChanged` or `CommandRefused`.
   */
  changeRole(m: ManagedApp, run: Run, cmd: AppCommand, role: Role): Promise<RoleOutcome> {
    const link = this.#links.get(m.id);
    if (!link || link.run !== run) return Promise.resolve({ ok: false, kind: 'refused', reason: 'no link to the application' });
    return link.changeRole(cmd, role);
  }

  /** A heartbeat sent at `sentMono` was stored: every SDK primary gets a lease (DESIGN rule 9). */
  heartbeatStored(sentMono: number): void {
    this.#heartbeatSent = Math.max(this.#heartbeatSent ?? sentMono, sentMono);
    if (!this.d.mayLease()) return;
    for (const link of this.#links.values()) link.renewLease();
  }

  /** Tells every SDK application at once of a demotion the LCA made on its own (not at the next ping). */
  reconcileAll(): void {
    for (const link of this.#links.values()) link.reconcile();
  }

  closeAll(): void {
    for (const link of this.#links.values()) link.close('LCA stopping');
    this.#links.clear();
  }

  /**
   * What is left of a lease counted from when the last stored heartbeat was sent: a heartbeat whose
   * ack was read late (the LCA was paused) grants little or nothing. Undefined: no lease now.
   */
  #leaseTtl(fence: boolean): number | null | undefined {
    if (!this.d.mayLease() || this.#heartbeatSent === null) return undefined;
    if (!fence) return null;
    const ttl = Math.floor(timingOf(this.d.config).fenceMs - (monoMs() - this.#heartbeatSent));
    return ttl > 0 ? ttl : undefined;
  }
}

const timingOf = (config: () => ClusterConfig | null): Timing => config()?.timing ?? TimingSchema.parse({});

type Pending = { command: string | null; role: Role; epoch: number; resolve: (o: RoleOutcome) => void };

/** The link to one run of an SDK application. */
class AppLink {
  readonly #server: Server;
  readonly #path: string;
  #socket: Socket | null = null;
  #hello = false;
  #ended = false;
  #failing = false;
  #timer: NodeJS.Timeout | undefined;
  #prevTick: number | null = null;
  #helloDeadline: number;
  /** Pings not answered yet, oldest first (the application answers in order). */
  #outstanding: Array<{ id: number; at: number }> = [];
  #pingId = 0;
  #pending: Pending | null = null;
  /** The role the application last confirmed, and under which epoch. */
  #appRole: Role = 'backup';
  #appEpoch = 0;

  constructor(
    readonly m: ManagedApp,
    readonly run: Run,
    private readonly d: AppLinkDeps,
    private readonly leaseTtl: (fence: boolean) => number | null | undefined,
  ) {
    run.status = 'starting';
    this.#path = d.socketPath(m.id);
    this.#helloDeadline = monoMs() + HELLO_TIMEOUTS * this.#timing.appTimeoutMs;
    // A socket file left by an earlier run or LCA would make listen fail.
    rmSync(this.#path, { force: true });
    this.#server = createServer((s) => this.#accept(s));
    this.#server.on('error', (e) => d.log.error({ app: m.id, path: this.#path, err: e.message }, 'cannot listen for the application'));
    this.#server.listen(this.#path);
    this.#schedule();
  }

  get #timing(): Timing {
    return timingOf(this.d.config);
  }

  get #log(): Logger {
    return this.d.log;
  }

  changeRole(cmd: AppCommand, role: Role): Promise<RoleOutcome> {
    if (this.#ended || this.run.stopping) return Promise.resolve({ ok: false, kind: 'refused', reason: 'not running' });
    if (!this.#hello || !this.#socket) {
      // Nothing was ever confirmed over a link that is not up: a demotion has nothing to undo.
      if (role !== 'primary') return Promise.resolve({ ok: true });
      return Promise.resolve({ ok: false, kind: 'refused', reason: 'the application is not connected (no hello yet)' });
    }
    if (this.#pending) return Promise.resolve({ ok: false, kind: 'refused', reason: 'another role change is under way' });
    const terms = pairTerms(this.d.config(), this.m.id);
    if (role === 'primary') {
      // A lease ahead of the role, so that the application acts as soon as its handlers ran.
      const ttl = this.leaseTtl(terms.fence);
      if (ttl !== undefined) this.#send({ type: 'lease', ttlMs: ttl, epoch: cmd.epoch });
    }
    const promoting = role === 'primary';
    this.#send({ type: 'role', role, epoch: cmd.epoch, command: cmd.id, peer: promoting ? terms.peer : null, peerCheck: promoting && terms.peerCheck });
    this.#log.info({ app: this.m.id, role, command: cmd.id, epoch: cmd.epoch, peer: terms.peer, peerCheck: promoting && terms.peerCheck }, 'role change sent to the application');
    const timeoutMs = this.#timing.promoteTimeoutMs;
    return new Promise<RoleOutcome>((resolve) => {
      const timer = setTimeout(() => {
        if (this.#pending !== pending) return;
        this.#pending = null;
        if (promoting) {
          // It may still confirm: take it back, so that it never acts as a primary nobody recorded.
          this.#send({ type: 'role', role: 'backup', epoch: cmd.epoch, command: null, peer: null, peerCheck: false });
        }
        resolve({ ok: false, kind: 'refused', reason: 'no confirmation' });
      }, timeoutMs);
      const pending: Pending = {
        command: cmd.id,
        role,
        epoch: cmd.epoch,
        resolve: (o) => {
          clearTimeout(timer);
          resolve(o);
        },
      };
      this.#pending = pending;
    });
  }

  /**
   * Leases go to a confirmed primary, and to an application whose promotion is under way (so that
   * it acts as soon as its handlers ran, however long they took); never during a demotion.
   */
  renewLease(): void {
    if (!this.#hello || this.#ended || this.#failing) return;
    const p = this.#pending;
    let epoch: number;
    if (p) {
      if (p.role !== 'primary') return;
      epoch = p.epoch;
    } else {
      if (this.run.role !== 'primary' || this.#appRole !== 'primary') return;
      epoch = this.#appEpoch;
    }
    const ttl = this.leaseTtl(pairTerms(this.d.config(), this.m.id).fence);
    if (ttl === undefined) return;
    this.#send({ type: 'lease', ttlMs: ttl, epoch });
  }

  close(why: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#pending?.resolve({ ok: false, kind: 'refused', reason: why === 'exited' ? 'exited before confirming' : why });
    this.#pending = null;
    this.#socket?.destroy();
    this.#socket = null;
    // Closing a Unix socket server removes its file.
    this.#server.close();
  }

  #accept(s: Socket): void {
    if (this.#socket || this.#ended || this.#failing) {
      this.#log.warn({ app: this.m.id }, 'second connection from the application refused');
      s.destroy();
      return;
    }
    this.#socket = s;
    s.setEncoding('utf8');
    let buf = '';
    let skipping = false;
    s.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (skipping) skipping = false;
        else if (line.trim() !== '') this.#line(line);
      }
      if (buf.length > MAX_LINE) {
        this.#log.warn({ app: this.m.id }, 'overlong line from the application skipped');
        buf = '';
        skipping = true;
      }
    });
    s.on('error', (e) => this.#log.debug({ app: this.m.id, err: e.message }, 'application socket error'));
    s.once('close', () => {
      if (this.#socket === s) this.#socket = null;
      void this.#connectionClosed();
    });
  }

  #line(line: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.#log.warn({ app: this.m.id, line: line.slice(0, 200) }, 'malformed line from the application skipped');
      return;
    }
    const r = AppToLcaSchema.safeParse(raw);
    if (!r.success) {
      this.#log.warn({ app: this.m.id, line: line.slice(0, 200), err: r.error.issues[0]?.message }, 'unknown message from the application skipped');
      return;
    }
    const msg = r.data;
    if (msg.type !== 'hello' && !this.#hello) {
      this.#log.warn({ app: this.m.id, type: msg.type }, 'message before hello skipped');
      return;
    }
    const { m, run } = this;
    switch (msg.type) {
      case 'hello':
        if (this.#hello) {
          this.#log.warn({ app: m.id }, 'second hello ignored');
          return;
        }
        if (msg.app !== m.id || msg.pid !== run.pid) this.#log.warn({ app: m.id, pid: run.pid, said: { app: msg.app, pid: msg.pid } }, 'hello names another application or pid');
        this.#hello = true;
        this.#send({ type: 'welcome', v: 1, app: m.id, incarnation: run.incarnation, role: run.role });
        this.#log.info({ app: m.id, pid: run.pid }, 'application connected');
        return;
      case 'pong': {
        const id = msg.id;
        this.#outstanding = this.#outstanding.filter((o) => o.id > id);
        return;
      }
      case 'status': {
        if (run.status === msg.status) return;
        run.status = msg.status;
        const { status, detail } = msg;
        this.#log.info({ app: m.id, status, detail }, 'application status');
        void this.d.outbox
          .publish(() => {
            if (run.incarnation === null) throw new Error(`AppStatusChanged of ${m.id} before its AppStarted was stored`);
            return { type: 'AppStatusChanged', app: m.id, incarnation: run.incarnation, status, detail };
          })
          .catch(() => undefined);
        return;
      }
      case 'role-confirmed': {
        this.#appRole = msg.role;
        this.#appEpoch = Math.max(this.#appEpoch, msg.epoch);
        const p = this.#pending;
        if (p && p.command === msg.command && p.role === msg.role) {
          this.#pending = null;
          p.resolve({ ok: true });
        } else {
          this.#log.info({ app: m.id, role: msg.role, command: msg.command }, 'late or unasked role confirmation');
        }
        return;
      }
      case 'role-refused': {
        const p = this.#pending;
        if (p && p.command === msg.command) {
          this.#pending = null;
          p.resolve({ ok: false, kind: msg.kind, reason: msg.reason });
        }
        return;
      }
      case 'fenced': {
        const { fenced, monoNs } = msg;
        this.#log[fenced ? 'warn' : 'info']({ app: m.id, monoNs }, fenced ? 'application fenced itself (lease lapsed)' : 'application acts as primary again');
        void this.d.outbox
          .publish(() => {
            if (run.incarnation === null) throw new Error(`AppSelfFenced of ${m.id} before its AppStarted was stored`);
            return { type: 'AppSelfFenced', app: m.id, incarnation: run.incarnation, fenced, monoNs };
          })
          .catch(() => undefined);
        return;
      }
    }
  }

  /**
   * The socket closed. If the process exits at about the same time (its exit closes the socket
   * first), that exit is what counts; a process that outlives its connection has failed.
   */
  async #connectionClosed(): Promise<void> {
    if (this.#ended || this.run.stopping || this.#failing) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.run.exited, new Promise<void>((r) => (t = setTimeout(r, this.#timing.appPingMs)))]);
    clearTimeout(t);
    if (this.#ended || this.run.stopping || !isAlive(this.run.pid)) return;
    this.#fail('connection-lost', 'the application closed its connection to the LCA');
  }

  #fail(cause: 'hung' | 'connection-lost', why: string): void {
    if (this.#failing || this.#ended || this.run.stopping) return;
    this.#failing = true;
    this.#log.warn({ app: this.m.id, pid: this.run.pid, cause, why }, 'application failed');
    const p = this.#pending;
    this.#pending = null;
    p?.resolve({ ok: false, kind: 'refused', reason: `application ${cause}` });
    void this.d.supervisor.fail(this.m.id, this.run, cause);
  }

  #schedule(): void {
    if (this.#ended) return;
    this.#timer = setTimeout(() => this.#tick(), this.#timing.appPingMs);
  }

  #tick(): void {
    const t = this.#timing;
    const now = monoMs();
    if (this.#prevTick !== null && now - this.#prevTick > t.appTimeoutMs / 2) {
      // The LCA itself was late (paused or busy): that time does not count against the application.
      const late = now - this.#prevTick - t.appPingMs;
      for (const o of this.#outstanding) o.at = Math.min(now, o.at + late);
      this.#helloDeadline += late;
    }
    this.#prevTick = now;
    this.#schedule();
    if (this.#ended || this.#failing || this.run.stopping) return;
    if (!this.#hello) {
      if (now > this.#helloDeadline) this.#fail('hung', `no hello within ${HELLO_TIMEOUTS * t.appTimeoutMs} ms`);
      return;
    }
    const id = ++this.#pingId;
    this.#outstanding.push({ id, at: now });
    this.#send({ type: 'ping', id });
    const oldest = this.#outstanding[0];
    if (oldest && now - oldest.at > t.appTimeoutMs) {
      // Read what is already pending on the socket before judging.
      setImmediate(() => {
        const first = this.#outstanding[0];
        const waited = first ? monoMs() - first.at : 0;
        if (waited > t.appTimeoutMs) this.#fail('hung', `ping ${first?.id ?? '?'} unanswered for ${waited} ms`);
      });
      return;
    }
    this.#reconcile();
  }

  reconcile(): void {
    this.#reconcile();
  }

  /** The LCA demoted the run on its own (after a freeze, primaries.ts): the application is told too. */
  #reconcile(): void {
    if (this.#pending || this.#appRole !== 'primary' || this.run.role === 'primary') return;
    this.#log.warn({ app: this.m.id, role: this.run.role }, 'telling the application of its demotion');
    this.#appRole = this.run.role;
    this.#send({ type: 'role', role: this.run.role, epoch: this.#appEpoch, command: null, peer: null, peerCheck: false });
  }

  #send(msg: LcaToApp): void {
    const s = this.#socket;
    if (!s || s.destroyed) return;
    s.write(`${JSON.stringify(msg)}\n`);
  }
}
