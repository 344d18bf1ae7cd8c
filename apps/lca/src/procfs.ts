import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** What /proc/<pid>/stat tells about a process: its state letter and its start time (field 22, clock ticks). */
export type ProcStat = Readonly<{ state: string; startTime: string }>;

/** Reads /proc/<pid>/stat; null when the process does not exist. */
export const readStat = (pid: number): ProcStat | null => {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  if (state === undefined || startTime === undefined) return null;
  return { state, startTime };
};

/** True while `pid` exists and is not a zombie (an ended process waiting to be reaped counts as gone). */
export const isAlive = (pid: number, startTime?: string): boolean => {
  const s = readStat(pid);
  if (!s || s.state === 'Z' || s.state === 'X' || s.state === 'x') return false;
  return startTime === undefined || s.startTime === startTime;
};

/** A digest of a command line as /proc/<pid>/cmdline holds it (arguments each ended by a NUL). */
export const commandDigest = (argv: readonly string[]): string => createHash('sha256').update(argv.map((a) => `${a}\0`).join('')).digest('hex').slice(0, 32);

/** The digest of the command line a process runs now; null when it cannot be read. */
export const cmdlineDigest = (pid: number): string | null => {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`);
    return createHash('sha256').update(raw).digest('hex').slice(0, 32);
  } catch {
    return null;
  }
};
