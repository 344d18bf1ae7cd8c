import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Logger } from '@ha/bus';
import type { AppSnapshot, ApplicationConfig, ExitCause, Role } from '@ha/events';
import type { Outbox } from './outbox.js';
import { removeFile, writePidfile, type StateDir } from './pidfiles.js';
import { isProbed } from './probes.js';

/** Grace between SIGTERM and SIGKILL when the LCA stops an application. */
export const STOP_GRACE_MS = 2000;

/** One run of an application: from spawn to reaping. */
export type Run = {
  readonly child: ChildProcess;
  readonly pid: number;
  /** `HA_EVENTS` sequence of its `AppStarted`, once stored. */
  incarnation: number | null;
  role: Role;
  /** Set when the LCA stops it (command, removal from the config, shutdown): its exit is expected. */
  stopping: boolean;
  /** Set when the LCA killed it as failed (`fail`): its `AppExited` carries this cause. */
  cause?: ExitCause;
  /** What an SDK application last reported (appLink.ts); plain processes count as started. */
  status?: 'starting' | 'started' | 'service-unavailable';
  readonly exited: Promise<void>;
};

export type ManagedApp = {
  readonly id: string;
  config: ApplicationConfig;
  /** False once a new configuration no longer names it; it is forgotten when its run ends. */
  inConfig: boolean;
  run: Run | null;
  lastIncarnation: number | null;
};

export type StartResult = { ok: true; run: Run } | { ok: false; reason: string };

/** Applications without the SDK die with their LCA: `setpriv --pdeathsig KILL` (Linux), found once. */
const findSetpriv = (): boolean => {
  const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8', timeout: 5000 });
  return r.status === 0 && typeof r.stdout === 'string' && r.stdout.includes('--pdeathsig');
};

/** Child processes of one LCA: spawn without a shell, pidfiles, reaping, and the events about them. */
export class Supervisor {
  readonly #apps = new Map<string, ManagedApp>();
  #setpriv: boolean | undefined;
  readonly #onStart: Array<(m: ManagedApp, run: Run) => void> = [];

  constructor(
    private readonly dir: StateDir,
    private readonly outbox: Outbox,
    private readonly log: Logger,
  ) {}

  /** Called right after every spawn (probes, application links). */
  onStart(listener: (m: ManagedApp, run: Run) => void): void {
    this.#onStart.push(listener);
  }

  get(app: string): ManagedApp | undefined {
    return this.#apps.get(app);
  }

  apps(): ManagedApp[] {
    return [...this.#apps.values()];
  }

  /** Records the applications a configuration gives this host; returns those no longer configured. */
  configure(apps: readonly ApplicationConfig[]): ManagedApp[] {
    const wanted = new Set(apps.map((a) => a.id));
    const removed: ManagedApp[] = [];
    for (const m of this.#apps.values()) {
      if (wanted.has(m.id)) continue;
      m.inConfig = false;
      if (m.run) removed.push(m);
      else this.#apps.delete(m.id);
    }
    // Keep configuration order for snapshots.
    const next = new Map<string, ManagedApp>();
    for (const a of apps) {
      const m = this.#apps.get(a.id);
      if (m) {
        m.config = a;
        m.inConfig = true;
        next.set(a.id, m);
      } else {
        next.set(a.id, { id: a.id, config: a, inConfig: true, run: null, lastIncarnation: null });
      }
    }
    for (const m of removed) next.set(m.id, m);
    this.#apps.clear();
    for (const [k, v] of next) this.#apps.set(k, v);
    return removed;
  }

  /** Spawns an application as backup; its `AppStarted` names `command` (null for a start of the LCA's own). */
  start(app: string, command: string | null): StartResult {
    const m = this.#apps.get(app);
    if (!m || !m.inConfig) return { ok: false, reason: `unknown application ${app}` };
    if (m.run) return { ok: false, reason: 'already running' };
    const cfg = m.config;
    if (this.#setpriv === undefined) {
      this.#setpriv = findSetpriv();
      if (!this.#setpriv) this.log.warn('setpriv --pdeathsig not available: applications will not die with the LCA');
    }
    // Rule 9: plain processes die with their LCA; SDK applications outlive it and fence themselves
    // (or keep serving, as their pair chooses), so they are not tied to it.
    const dieWithLca = this.#setpriv && cfg.probe.kind !== 'sdk';
    const [file, ...args] = dieWithLca ? ['setpriv', '--pdeathsig', 'KILL', '--', ...cfg.command] : cfg.command;
    let out: number;
    try {
      out = openSync(this.dir.appLog(app), 'a');
    } catch (e) {
      this.log.error({ app, err: (e as Error).message }, 'cannot open application log');
      return { ok: false, reason: `cannot open log: ${(e as Error).message}` };
    }
    let child: ChildProcess;
    try {
      child = spawn(file as string, args, {
        cwd: cfg.cwd,
        env: {
          ...process.env,
          ...cfg.env,
          HA_APP_ID: app,
          HA_ROLE: 'backup',
          HA_LCA_SOCKET: this.dir.appSocket(app),
        },
        stdio: ['ignore', out, out],
      });
    } catch (e) {
      closeSync(out);
      this.log.error({ app, err: (e as Error).message }, 'cannot spawn application');
      return { ok: false, reason: `spawn failed: ${(e as Error).message}` };
    }
    closeSync(out);
    const pid = child.pid;
    if (pid === undefined) {
      // ENOENT and the like: 'error' follows; nothing ran, so there is nothing to report as started.
      child.once('error', (e) => this.log.error({ app, err: e.message }, 'cannot spawn application'));
      return { ok: false, reason: 'spawn failed' };
    }
    child.on('error', (e) => this.log.warn({ app, pid, err: e.message }, 'child process error'));
    let onExit!: () => void;
    const exited = new Promise<void>((r) => {
      onExit = r;
    });
    // An SDK application says when it is started; a probed one is started at its first passed probe.
    const status = cfg.probe.kind === 'sdk' || isProbed(cfg.probe) ? 'starting' : 'started';
    const run: Run = { child, pid, incarnation: null, role: 'backup', stopping: false, exited, status };
    m.run = run;
    const pidfile = this.dir.appPidfile(app);
    try {
      writePidfile(pidfile, pid, cfg.command);
    } catch (e) {
      this.log.error({ app, err: (e as Error).message }, 'cannot write application pidfile');
    }
    this.log.info({ app, pid, command: command ?? undefined }, 'application started');
    void this.outbox
      .publish(
        () => ({ type: 'AppStarted', app, pid, role: 'backup', command, status }),
        (seq) => {
          run.incarnation = seq;
          m.lastIncarnation = seq;
        },
      )
      .catch(() => undefined);
    child.once('exit', (code, signal) => {
      removeFile(pidfile);
      if (m.run === run) m.run = null;
      if (!m.inConfig && !m.run && this.#apps.get(app) === m) this.#apps.delete(app);
      const expected = run.stopping;
      this.log[expected ? 'info' : 'warn']({ app, pid, code, signal, expected, cause: run.cause ?? 'exit' }, 'application exited');
      void this.outbox
        .publish(() => {
          if (run.incarnation === null) throw new Error(`AppExited of ${app} before its AppStarted was stored`);
          return { type: 'AppExited', app, incarnation: run.incarnation, pid, code, signal, expected, cause: run.cause ?? 'exit' };
        })
        .catch(() => undefined);
      onExit();
    });
    for (const f of this.#onStart) f(m, run);
    return { ok: true, run };
  }

  /** Kills a failed run at once (SIGKILL); resolves once reaped. Its `AppExited` then carries `cause`. */
  fail(app: string, run: Run, cause: ExitCause): Promise<void> {
    if (this.#apps.get(app)?.run !== run || run.stopping || run.cause) return run.exited;
    run.cause = cause;
    this.log.warn({ app, pid: run.pid, cause }, 'application failed; SIGKILL');
    run.child.kill('SIGKILL');
    return run.exited;
  }

  /** SIGTERM, then SIGKILL after the grace; resolves once reaped. */
  stop(app: string): Promise<void> {
    const run = this.#apps.get(app)?.run;
    if (!run) return Promise.resolve();
    return this.#stopRun(app, run);
  }

  #stopRun(app: string, run: Run): Promise<void> {
    const first = !run.stopping;
    run.stopping = true;
    if (first) {
      this.log.info({ app, pid: run.pid }, 'stopping application');
      run.child.kill('SIGTERM');
      const t = setTimeout(() => {
        this.log.warn({ app, pid: run.pid }, 'application did not stop in time; SIGKILL');
        run.child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      void run.exited.then(() => clearTimeout(t));
    }
    return run.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.apps().flatMap((m) => (m.run ? [this.#stopRun(m.id, m.run)] : [])));
  }

  snapshot(): AppSnapshot[] {
    return this.apps().map((m) =>
      m.run
        ? { app: m.id, incarnation: m.run.incarnation, pid: m.run.pid, status: m.run.status ?? 'started', role: m.run.role }
        : { app: m.id, incarnation: m.lastIncarnation, pid: null, status: 'stopped', role: 'none' },
    );
  }
}
