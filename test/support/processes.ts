import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** A child process whose output goes to a log file; `stop()` ends it and waits until it is reaped. */
export class Proc {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exitedFlag = false;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitedFlag = true;
        resolve({ code, signal });
      });
    });
  }
  get pid(): number {
    return this.child.pid ?? -1;
  }
  get running(): boolean {
    return !this.#exitedFlag;
  }
  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }
  async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(this.pid, 'SIGCONT');
      process.kill(this.pid, sig);
    } catch {
      return;
    }
    const t = setTimeout(() => this.running && this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

export const spawnLogged = (name: string, cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = {}): Proc => {
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return new Proc(name, child, logFile);
};
