import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@ha/bus';
import { sleep } from '@ha/bus';
import { isAlive, readStat } from './procfs.js';

/** Where one host's LCA keeps its files: `<state-dir>/<host>/`. */
export class StateDir {
  constructor(readonly root: string) {}

  get lcaPidfile(): string {
    return join(this.root, 'lca.pid');
  }
  get appsDir(): string {
    return join(this.root, 'apps');
  }
  appPidfile(app: string): string {
    return join(this.appsDir, `${app}.pid`);
  }
  appLog(app: string): string {
    return join(this.root, `${app}.log`);
  }
  appSocket(app: string): string {
    return join(this.root, `${app}.sock`);
  }
  create(): void {
    mkdirSync(this.appsDir, { recursive: true });
  }
}

/** A pidfile holds `pid starttime`: the pid alone could name an unrelated process after pid reuse. */
export const writePidfile = (path: string, pid: number): void => {
  const stat = readStat(pid);
  writeFileSync(path, `${pid} ${stat?.startTime ?? '0'}\n`);
};

export const readPidfile = (path: string): { pid: number; startTime: string } | null => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const [p, st] = text.trim().split(/\s+/);
  const pid = Number(p);
  if (!Number.isInteger(pid) || pid <= 0 || !st) return null;
  return { pid, startTime: st };
};

export const removeFile = (path: string): void => {
  rmSync(path, { force: true });
};

/** SIGKILLs the process named by a pidfile if it is still that process and not us; true when it killed one. */
const endOne = async (path: string, log: Logger, what: string): Promise<boolean> => {
  const p = readPidfile(path);
  if (!p || p.pid === process.pid || !isAlive(p.pid, p.startTime)) return false;
  try {
    process.kill(p.pid, 'SIGKILL');
  } catch (e) {
    log.warn({ pid: p.pid, err: (e as Error).message }, `cannot kill leftover ${what}`);
    return false;
  }
  const deadline = Date.now() + 10_000;
  while (isAlive(p.pid, p.startTime) && Date.now() < deadline) await sleep(10);
  log.warn({ pid: p.pid }, `killed leftover ${what} of an earlier incarnation`);
  return true;
};

/**
 * Ends what earlier LCA incarnations of this host left running: their applications first (while a
 * stopped old LCA still holds them), then the old LCA itself. Returns the applications it killed.
 */
export const endLeftovers = async (dir: StateDir, log: Logger): Promise<string[]> => {
  const ended: string[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(dir.appsDir).filter((f) => f.endsWith('.pid'));
  } catch {
    files = [];
  }
  for (const f of files.sort()) {
    const app = f.slice(0, -'.pid'.length);
    if (await endOne(join(dir.appsDir, f), log, `application ${app}`)) ended.push(app);
    removeFile(join(dir.appsDir, f));
  }
  await endOne(dir.lcaPidfile, log, 'LCA');
  return ended;
};
