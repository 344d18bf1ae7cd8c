import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Logger } from '@ha/bus';
import { monoMs } from '@ha/bus';
import type { AppCommand, ApplicationConfig, CommandRefused, Role, Timing } from '@ha/events';
import type { StateDir } from './pidfiles.js';
import type { ManagedApp, Run } from './supervisor.js';

/** How a bounded command ended. */
export type CommandEnd =
  | { ok: true }
  | { ok: false; code: number }
  | { ok: false; signal: string }
  | { ok: false; timedOutMs: number }
  | { ok: false; error: string };

export type BoundedOptions = Readonly<{
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
  timeoutMs: number;
  /** File to append the command's output to; its output is dropped without one. */
  logFile?: string | undefined;
}>;

/**
 * Runs `argv` without a shell and resolves once it was reaped; past `timeoutMs` its whole process
 * group is SIGKILLed (it runs in a group of its own so that a hook's children do not outlive the bound).
 */
export const runBounded = (argv: readonly string[], o: BoundedOptions): Promise<CommandEnd> =>
  new Promise((resolve) => {
    const [file, ...args] = argv;
    if (file === undefined) {
      resolve({ ok: false, error: 'empty command' });
      return;
    }
    let out: number | 'ignore' = 'ignore';
    if (o.logFile !== undefined) {
      try {
        out = openSync(o.logFile, 'a');
      } catch {
        out = 'ignore';
      }
    }
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const child = (() => {
      try {
        return spawn(file, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', out, out], detached: true });
      } catch (e) {
        return e as Error;
      } finally {
        if (typeof out === 'number') closeSync(out);
      }
    })();
    if (child instanceof Error) {
      resolve({ ok: false, error: child.message });
      return;
    }
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    child.once('error', (e) => {
      clearTimeout(timer);
      // A spawn failure (ENOENT, EACCES) gets no 'exit'.
      if (child.pid === undefined) resolve({ ok: false, error: e.message });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ ok: false, timedOutMs: o.timeoutMs });
      else if (code === 0) resolve({ ok: true });
      else if (code !== null) resolve({ ok: false, code });
      else resolve({ ok: false, signal: signal ?? 'unknown' });
    });
    if (child.pid !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, o.timeoutMs);
    }
  });

/** `onPromote exited with code 1`, `precondition timed out after 2000 ms`, ... */
export const describeEnd = (what: string, end: CommandEnd): string => {
  if ('code' in end) return `${what} exited with code ${end.code}`;
  if ('signal' in end) return `${what} was killed by ${end.signal}`;
  if ('timedOutMs' in end) return `${what} timed out after ${end.timedOutMs} ms`;
  if ('error' in end) return `${what} could not run: ${end.error}`;
  return `${what} exited with code 0`;
};

/** Environment of a command the LCA runs for an application: its own, the application's, and HA_*. */
export const appEnv = (cfg: ApplicationConfig, extra: Record<string, string>): NodeJS.ProcessEnv => ({
  ...process.env,
  ...cfg.env,
  HA_APP_ID: cfg.id,
  ...extra,
});

/** Why a command is not carried out, as `CommandRefused` reports it. */
export type Refusal = Readonly<{ kind: CommandRefused['kind']; reason: string }>;

/** What the command processor asks before it acts (see `RoleHooks`). */
export interface CommandGate {
  /** Before any action on a known application: a refusal, or null to go on. */
  admit(cmd: AppCommand): Refusal | null;
  /** Before a promote/demote that changes the role of `run` is confirmed. Null: confirm it. */
  beforeRoleChange(m: ManagedApp, run: Run, cmd: AppCommand): Promise<Refusal | null>;
  /** True when `beforeRoleChange` runs commands for this promotion (they may take up to promoteTimeoutMs). */
  hooksPromotion(m: ManagedApp): boolean;
  /** A promotion whose hooks ran is not confirmed after all: its `onDemote` runs (best effort). */
  undoPromotion(m: ManagedApp, run: Run, cmd: AppCommand): Promise<void>;
}

export type RoleHooksDeps = Readonly<{
  dir: StateDir;
  timing: () => Timing;
  /** True while the LCA drains: no promotion and no start is accepted any more. */
  draining: () => boolean;
  log: Logger;
}>;

/**
 * Roles of applications without the SDK are advisory (DESIGN rule 9): the LCA runs `precondition`
 * and `onPromote` before it confirms a promotion, and `onDemote` before it confirms a demotion. All
 * run without a shell and share one bound, `promoteTimeoutMs` from the command's arrival, so that
 * the confirmation still comes within the SCS's promotion timeout. A failing `onDemote` does not
 * block the demotion: stepping down must always be possible.
 */
export class RoleHooks implements CommandGate {
  constructor(private readonly d: RoleHooksDeps) {}

  admit(cmd: AppCommand): Refusal | null {
    if (this.d.draining() && (cmd.action === 'promote' || cmd.action === 'start')) {
      return { kind: 'refused', reason: `LCA draining: no ${cmd.action} accepted` };
    }
    return null;
  }

  hooksPromotion(m: ManagedApp): boolean {
    return m.config.precondition !== undefined || (m.config.probe.kind !== 'sdk' && m.config.onPromote !== undefined);
  }

  async undoPromotion(m: ManagedApp, run: Run, cmd: AppCommand): Promise<void> {
    const cfg = m.config;
    if (cfg.probe.kind === 'sdk' || !cfg.onPromote || !cfg.onDemote) return;
    const end = await this.#run('onDemote', cfg.onDemote, cfg, run, cmd, 'backup', this.d.timing().promoteTimeoutMs);
    if (!end.ok) this.d.log.warn({ app: m.id, command: cmd.id, reason: describeEnd('onDemote', end) }, 'onDemote after an unconfirmed promotion failed');
  }

  async beforeRoleChange(m: ManagedApp, run: Run, cmd: AppCommand): Promise<Refusal | null> {
    const cfg = m.config;
    const bound = this.d.timing().promoteTimeoutMs;
    let deadline: number | undefined;
    const plain = cfg.probe.kind !== 'sdk';
    const run1 = (what: string, argv: readonly string[], role: Role): Promise<CommandEnd> => {
      // The first command gets the whole bound; the next what is left of it.
      const left = deadline === undefined ? bound : Math.max(1, deadline - monoMs());
      deadline ??= monoMs() + bound;
      return this.#run(what, argv, cfg, run, cmd, role, left);
    };
    if (cmd.action === 'promote') {
      if (cfg.precondition) {
        // The precondition checks the backup as it is: HA_ROLE is still its current role.
        const end = await run1('precondition', cfg.precondition, run.role);
        if (!end.ok) return { kind: 'precondition', reason: describeEnd('precondition', end) };
      }
      if (plain && cfg.onPromote) {
        const end = await run1('onPromote', cfg.onPromote, 'primary');
        if (!end.ok) return { kind: 'hook', reason: describeEnd('onPromote', end) };
      }
      return null;
    }
    if (cmd.action === 'demote' && plain && cfg.onDemote) {
      const end = await run1('onDemote', cfg.onDemote, 'backup');
      if (!end.ok) {
        this.d.log.warn({ app: m.id, command: cmd.id, reason: describeEnd('onDemote', end) }, 'onDemote failed; demoted all the same');
      }
    }
    return null;
  }

  async #run(what: string, argv: readonly string[], cfg: ApplicationConfig, run: Run, cmd: AppCommand, role: Role, timeoutMs: number): Promise<CommandEnd> {
    const { log, dir } = this.d;
    const started = monoMs();
    log.info({ app: cfg.id, pid: run.pid, command: cmd.id, argv }, `running ${what}`);
    const end = await runBounded(argv, {
      env: appEnv(cfg, { HA_ROLE: role, HA_EPOCH: String(cmd.epoch) }),
      cwd: cfg.cwd,
      timeoutMs,
      logFile: dir.appLog(cfg.id),
    });
    const ms = monoMs() - started;
    if (end.ok) log.info({ app: cfg.id, command: cmd.id, ms }, `${what} succeeded`);
    else log.warn({ app: cfg.id, command: cmd.id, ms, reason: describeEnd(what, end) }, `${what} failed`);
    return end;
  }
}
