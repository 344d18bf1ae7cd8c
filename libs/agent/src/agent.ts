import { createConnection, type Socket } from 'node:net';
import {
  LcaToAppSchema,
  type AppToLca,
  type LcaToApp,
  type Role,
  type RoleAnswer,
} from '@ha/events';
import { RoleLease, type FenceChange, type MonoNs } from './lease.js';
import { LineSplitter } from './lines.js';
import { askPeer, PEER_TIMEOUT_MS, type PeerResult } from './peer.js';

/** Where the SDK writes what it has to say; by default JSON lines on stderr. */
export type AgentLog = Readonly<{
  info: (msg: string, data?: Record<string, unknown>) => void;
  warn: (msg: string, data?: Record<string, unknown>) => void;
}>;

export type AgentOptions = Readonly<{
  /** Default `HA_LCA_SOCKET`. */
  socketPath?: string;
  /** Default `HA_APP_ID`. */
  app?: string;
  /** Bound on the peer check (default 500 ms). */
  peerTimeoutMs?: number;
  /** How long the first connection attempt may keep retrying while the LCA's socket is not there yet. */
  connectTimeoutMs?: number;
  /** How long to wait for the LCA's `welcome`. */
  welcomeTimeoutMs?: number;
  /** Monotonic clock in nanoseconds (tests); default `process.hrtime.bigint`. */
  clock?: () => MonoNs;
  /** The peer check (tests); default `GET http://<peer>/ha/role`. */
  askPeer?: (peer: string, timeoutMs: number) => Promise<PeerResult>;
  log?: AgentLog;
}>;

export type RoleInfo = Readonly<{ epoch: number }>;
export type RoleHandler = (role: Role, info: RoleInfo) => void | Promise<void>;
export type FenceHandler = (fenced: boolean, monoNs: MonoNs) => void;
export type Precondition = () => boolean | Promise<boolean>;

/** The process does not run under an LCA: `HA_LCA_SOCKET` is not set. */
export class NotManagedError extends Error {
  constructor() {
    super('HA_LCA_SOCKET is not set: not started by an LCA');
    this.name = 'NotManagedError';
  }
}

const stderrLog: AgentLog = {
  info: (msg, data) => process.stderr.write(`${JSON.stringify({ level: 'info', name: 'ha-agent', msg, ...data })}\n`),
  warn: (msg, data) => process.stderr.write(`${JSON.stringify({ level: 'warn', name: 'ha-agent', msg, ...data })}\n`),
};

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The link of a managed application to its LCA (DESIGN section 4, "Application side"). Obtained
 * from `connectAgent`. One connection per process: when it breaks, the SDK does not reconnect (the
 * LCA notices and acts); a primary's lease then lapses and it fences itself.
 */
export class Agent {
  readonly #state = new RoleLease('backup');
  readonly #roleHandlers: RoleHandler[] = [];
  readonly #fenceHandlers: FenceHandler[] = [];
  readonly #preconditions: Precondition[] = [];
  readonly #clock: () => MonoNs;
  readonly #log: AgentLog;
  readonly #ask: (peer: string, timeoutMs: number) => Promise<PeerResult>;
  readonly #peerTimeoutMs: number;
  #roles: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #connected = true;
  #closing = false;
  #incarnation: number | null = null;
  #pings = 0;
  #onClosed!: () => void;
  /** Resolves when the connection to the LCA ended (closed by either side). */
  readonly closed: Promise<void>;

  /** @internal use `connectAgent` */
  constructor(
    readonly app: string,
    private readonly socket: Socket,
    opts: AgentOptions,
  ) {
    this.#clock = opts.clock ?? (() => process.hrtime.bigint());
    this.#log = opts.log ?? stderrLog;
    this.#ask = opts.askPeer ?? askPeer;
    this.#peerTimeoutMs = opts.peerTimeoutMs ?? PEER_TIMEOUT_MS;
    this.closed = new Promise((r) => (this.#onClosed = r));
    socket.on('close', () => {
      this.#connected = false;
      if (!this.#closing) this.#log.warn('connection to the LCA lost; not reconnecting');
      this.#onClosed();
    });
  }

  /** The confirmed role: `primary` only once a promotion's handlers ran. */
  get role(): Role {
    return this.#state.role;
  }

  /** Epoch of the last role change. */
  get epoch(): number {
    return this.#state.epoch;
  }

  /** The application incarnation the LCA named in its welcome (null until stored). */
  get incarnation(): number | null {
    return this.#incarnation;
  }

  /** Pings answered so far (the LCA judges the application hung without them). */
  get pingsAnswered(): number {
    return this.#pings;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Primary and holding a valid lease, on the monotonic clock, now: check it before every primary-only action. */
  isPrimary(): boolean {
    return this.#state.isPrimary(this.#clock());
  }

  /** What to serve at `GET /ha/role` for the peer check of the other member (DESIGN rule 8). */
  roleAnswer(): RoleAnswer {
    return { app: this.app, role: this.#state.role, acting: this.isPrimary() };
  }

  /** Reports that the application is initialized and can serve. */
  started(): void {
    this.#send({ type: 'status', status: 'started', detail: null });
  }

  /** Reports that the application cannot serve (DESIGN rule 3); `started()` again when it can. */
  serviceUnavailable(detail?: string): void {
    this.#send({ type: 'status', status: 'service-unavailable', detail: detail ?? null });
  }

  /** Called on every role change; the change is confirmed to the LCA only once every handler resolved. */
  onRole(handler: RoleHandler): void {
    this.#roleHandlers.push(handler);
  }

  /** A check that must pass before this application accepts a promotion. */
  precondition(check: Precondition): void {
    this.#preconditions.push(check);
  }

  /** Called when the primary stops (`true`) or resumes (`false`) acting on its own lease. */
  onFenced(handler: FenceHandler): void {
    this.#fenceHandlers.push(handler);
  }

  /**
   * Ends the connection to the LCA (which treats a live application without one as failed). The
   * lease still lapses as it would have.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.socket.end(() => this.socket.destroy());
  }

  /** @internal one parsed message from the LCA */
  receive(msg: LcaToApp): void {
    switch (msg.type) {
      case 'ping':
        if (this.#send({ type: 'pong', id: msg.id })) this.#pings++;
        return;
      case 'welcome':
        this.#incarnation = msg.incarnation;
        return;
      case 'lease':
        if (!this.#state.grant(msg.ttlMs, msg.epoch, this.#clock())) {
          this.#log.warn('lease of an earlier epoch ignored', { epoch: msg.epoch, current: this.#state.epoch });
          return;
        }
        this.#notice();
        return;
      case 'role':
        // One role change at a time, in the order the LCA sent them.
        this.#roles = this.#roles.then(() => this.#changeRole(msg)).catch((e: unknown) => this.#log.warn('role change failed', { err: errorMessage(e) }));
        return;
    }
  }

  async #changeRole(msg: Extract<LcaToApp, { type: 'role' }>): Promise<void> {
    const { role, epoch, command } = msg;
    if (role === 'primary') {
      if (this.#state.role === 'primary') {
        this.#state.setRole('primary', epoch, this.#clock());
        this.#send({ type: 'role-confirmed', command, role, epoch });
        return;
      }
      const refusal = await this.#checkBeforePromotion(msg);
      if (refusal) {
        this.#log.warn('promotion refused', { command, epoch, kind: refusal.kind, reason: refusal.reason });
        this.#send({ type: 'role-refused', command, kind: refusal.kind, reason: refusal.reason });
        return;
      }
      try {
        for (const h of this.#roleHandlers) await h(role, { epoch });
      } catch (e) {
        const reason = `role handler failed: ${errorMessage(e)}`;
        this.#log.warn('promotion refused', { command, epoch, reason });
        this.#send({ type: 'role-refused', command, kind: 'precondition', reason });
        return;
      }
      this.#state.setRole('primary', epoch, this.#clock());
      this.#log.info('acting as primary', { epoch, command });
      this.#notice();
      this.#send({ type: 'role-confirmed', command, role, epoch });
      return;
    }
    // Out first: a demoted application stops acting before its handlers run.
    const changed = this.#state.role !== role;
    this.#state.setRole(role, epoch, this.#clock());
    this.#schedule();
    if (changed) {
      this.#log.info(`now ${role}`, { epoch, command });
      for (const h of this.#roleHandlers) {
        try {
          await h(role, { epoch });
        } catch (e) {
          this.#log.warn('role handler failed on demotion (demoted anyway)', { err: errorMessage(e) });
        }
      }
    }
    this.#send({ type: 'role-confirmed', command, role, epoch });
  }

  async #checkBeforePromotion(msg: Extract<LcaToApp, { type: 'role' }>): Promise<{ kind: 'peer-check' | 'precondition'; reason: string } | null> {
    if (msg.peerCheck) {
      if (msg.peer === null) {
        this.#log.warn('peer check asked without a peer endpoint: nothing to ask');
      } else {
        const r = await this.#ask(msg.peer, this.#peerTimeoutMs);
        switch (r.kind) {
          case 'down':
            this.#log.info('peer does not answer: taken as down', { peer: msg.peer, why: r.why });
            break;
          case 'bad':
            return { kind: 'peer-check', reason: `peer ${msg.peer} answered unexpectedly: ${r.why}` };
          case 'answer':
            if (r.answer.role === 'primary' && r.answer.acting) return { kind: 'peer-check', reason: `peer ${r.answer.app} at ${msg.peer} answers primary` };
            break;
        }
      }
    }
    for (const check of this.#preconditions) {
      let ok: boolean;
      try {
        ok = await check();
      } catch (e) {
        return { kind: 'precondition', reason: `precondition failed: ${errorMessage(e)}` };
      }
      if (!ok) return { kind: 'precondition', reason: 'precondition does not hold' };
    }
    return null;
  }

  /** Reports a change of the acting state, if any, then arms the timer that notices the next one. */
  #notice(): void {
    const change = this.#state.notice(this.#clock());
    if (change) this.#fenceChanged(change);
    this.#schedule();
  }

  /** The timer only notices a lapse for the report; `isPrimary()` never depends on it. */
  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const expires = this.#state.expiresNs;
    // Kept after the connection broke: the lease still lapses and onFenced handlers must hear of it.
    if (expires === null || this.#state.role !== 'primary' || this.#state.fenced) return;
    const ms = Number((expires - this.#clock()) / 1_000_000n) + 1;
    this.#timer = setTimeout(() => this.#notice(), Math.max(0, ms));
    this.#timer.unref();
  }

  #fenceChanged(c: FenceChange): void {
    this.#log[c.fenced ? 'warn' : 'info'](c.fenced ? 'lease lapsed: fenced, not acting as primary' : 'fresh lease: acting as primary again');
    this.#send({ type: 'fenced', fenced: c.fenced, monoNs: c.atNs.toString() });
    for (const h of this.#fenceHandlers) {
      try {
        h(c.fenced, c.atNs);
      } catch (e) {
        this.#log.warn('onFenced handler failed', { err: errorMessage(e) });
      }
    }
  }

  #send(msg: AppToLca): boolean {
    if (!this.#connected || this.#closing || this.socket.destroyed) return false;
    this.socket.write(`${JSON.stringify(msg)}\n`);
    return true;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opens the Unix socket, retrying while it is not there yet (the LCA listens right after spawning us). */
const open = async (path: string, timeoutMs: number): Promise<Socket> => {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path);
        s.once('connect', () => {
          s.off('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > end) throw e;
      await sleep(50);
    }
  }
};

/**
 * Connects to the LCA at `HA_LCA_SOCKET`, says hello (`HA_APP_ID`, pid) and resolves once welcomed.
 * Throws `NotManagedError` when the process was not started by an LCA.
 */
export const connectAgent = async (opts: AgentOptions = {}): Promise<Agent> => {
  const path = opts.socketPath ?? process.env['HA_LCA_SOCKET'];
  if (!path) throw new NotManagedError();
  const app = opts.app ?? process.env['HA_APP_ID'] ?? 'app';
  const log = opts.log ?? stderrLog;
  const socket = await open(path, opts.connectTimeoutMs ?? 2000);
  socket.setEncoding('utf8');
  const agent = new Agent(app, socket, opts);
  return new Promise<Agent>((resolve, reject) => {
    let welcomed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no welcome from the LCA within ${opts.welcomeTimeoutMs ?? 5000} ms`));
    }, opts.welcomeTimeoutMs ?? 5000);
    const lines = new LineSplitter(
      (line) => {
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch {
          log.warn('malformed line from the LCA skipped', { line: line.slice(0, 200) });
          return;
        }
        const r = LcaToAppSchema.safeParse(raw);
        if (!r.success) {
          log.warn('unknown message from the LCA skipped', { line: line.slice(0, 200), err: r.error.issues[0]?.message });
          return;
        }
        agent.receive(r.data);
        if (r.data.type === 'welcome' && !welcomed) {
          welcomed = true;
          clearTimeout(timer);
          resolve(agent);
        }
      },
      () => log.warn('overlong line from the LCA skipped'),
    );
    socket.on('data', (chunk: string) => lines.push(chunk));
    socket.on('error', (e) => log.warn('LCA socket error', { err: e.message }));
    socket.once('close', () => {
      clearTimeout(timer);
      if (!welcomed) reject(new Error('the LCA closed the connection before its welcome'));
    });
    const hello: AppToLca = { type: 'hello', v: 1, app, pid: process.pid };
    socket.write(`${JSON.stringify(hello)}\n`);
  });
};
