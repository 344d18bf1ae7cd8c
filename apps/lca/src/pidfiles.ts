import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { join } from 'node:path';
import type { Logger } from '@ha/bus';
import { sleep } from '@ha/bus';
import { cmdlineDigest, commandDigest, isAlive, readStat } from './procfs.js';

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
  /**
   * Creates the directories (mode 0700) and refuses, with an error naming the path, a state directory
   * or host directory that is not a directory of this user that no one else may write: the default
   * lies under /tmp, where anyone could create it first and plant pidfiles (an LCA kills what they
   * name) or sockets.
   */
  create(): void {
    // each level checked before anything is created in it
    for (const d of [dirname(this.root), this.root, this.appsDir]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      checkOwnDir(d);
    }
  }
}

/** Throws unless `path` is a directory (not a link) owned by this user and writable by no one else. */
export const checkOwnDir = (path: string): void => {
  const st = lstatSync(path);
  const uid = process.getuid?.();
  if (!st.isDirectory()) throw new Error(`state directory ${path} is not a directory (a symbolic link?): refusing it; choose another with --state-dir or HA_STATE_DIR`);
  if (uid !== undefined && st.uid !== uid) throw new Error(`state directory ${path} belongs to uid ${st.uid}, not to this user (uid ${uid}): refusing it (its pidfiles could name any process); choose another with --state-dir or HA_STATE_DIR`);
  if ((st.mode & 0o022) !== 0) throw new Error(`state directory ${path} is writable by others (mode ${(st.mode & 0o777).toString(8)}): refusing it (anyone could plant pidfiles or sockets); chmod go-w it or choose another with --state-dir`);
};

/**
 * A pidfile holds `pid starttime command-digest`: the pid alone could name an unrelated process after
 * pid reuse, and a start time can be read by anyone from /proc; the digest is of the command line the
 * process is to run (`argv`, as /proc/<pid>/cmdline shows it once the exec chain is done).
 */
export const writePidfile = (path: string, pid: number, argv: readonly string[] | 'as-now'): void => {
  const stat = readStat(pid);
  const digest = argv === 'as-now' ? (cmdlineDigest(pid) ?? '-') : commandDigest(argv);
  writeFileSync(path, `${pid} ${stat?.startTime ?? '0'} ${digest}\n`, { mode: 0o600 });
};

export const readPidfile = (path: string): { pid: number; startTime: string; command: string | null } | null => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const [p, st, cmd] = text.trim().split(/\s+/);
  const pid = Number(p);
  if (!Number.isInteger(pid) || pid <= 0 || !st) return null;
  return { pid, startTime: st, command: cmd ?? null };
};

/** The pidfile names a live process with that start time AND that command line. */
export const trustedPidfile = (p: { pid: number; startTime: string; command: string | null }): boolean =>
  p.command !== null && isAlive(p.pid, p.startTime) && cmdlineDigest(p.pid) === p.command;

export const removeFile = (path: string): void => {
  rmSync(path, { force: true });
};

/** SIGKILLs the process named by a pidfile if it is still that process and not us; true when it killed one. */
const endOne = async (path: string, log: Logger, what: string): Promise<boolean> => {
  const p = readPidfile(path);
  if (!p || p.pid === process.pid || !isAlive(p.pid, p.startTime)) return false;
  if (!trustedPidfile(p)) {
    log.warn({ pid: p.pid, pidfile: path }, `pidfile of ${what} names a process running another command (or has no command): left alone`);
    return false;
  }
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
