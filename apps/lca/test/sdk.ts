/**
 * Helpers for tests of SDK applications (`probe.kind: sdk`): the built counter-server as the
 * application, configurations with every field, its HTTP endpoints and its --record file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codec, subjects, validateConfig } from '@ha/events';
import { freePort, type Proc } from '@ha/test';
import type { Bed, EventLog } from './bed.js';

const here = dirname(fileURLToPath(import.meta.url));
export const COUNTER_BIN = resolve(here, '../../../examples/counter-server/dist/main.js');

/** The short timings of the SDK tests. */
export const SDK_TIMING = {
  heartbeatMs: 100,
  hostTimeoutMs: 600,
  fenceMs: 300,
  appPingMs: 100,
  appTimeoutMs: 500,
  promoteTimeoutMs: 1500,
} as const;

export type Counter = { id: string; host: string; port: number; endpoint: string; record: string; roleDelayMs?: number };

/** A counter-server application on a free port, recording its role changes and fences to a file in the bed. */
export const counter = async (bed: Bed, id: string, host: string, o: { roleDelayMs?: number } = {}): Promise<Counter> => {
  const port = await freePort();
  return { id, host, port, endpoint: `127.0.0.1:${port}`, record: join(bed.dir, `${id}.record.jsonl`), ...(o.roleDelayMs ? { roleDelayMs: o.roleDelayMs } : {}) };
};

/** The configuration entry of a counter-server (`extra`: redundancy and the like). */
export const counterApp = (c: Counter, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: c.id,
  host: c.host,
  command: [process.execPath, COUNTER_BIN, '--port', String(c.port), '--record', c.record, ...(c.roleDelayMs ? ['--role-delay-ms', String(c.roleDelayMs)] : [])],
  endpoint: c.endpoint,
  probe: { kind: 'sdk' },
  ...extra,
});

/** Plays the SCS: a claim, then a configuration with `apps` as given. */
export const configureSdk = async (bed: Bed, apps: Record<string, unknown>[], hosts = ['host-a', 'host-b']): Promise<number> => {
  const epoch = await bed.claim();
  const r = validateConfig({ cluster: 'test', timing: SDK_TIMING, hosts: hosts.map((id) => ({ id })), applications: apps });
  if (!r.ok) throw new Error(`bad test config: ${r.errors.join('; ')}`);
  await bed.js.publish(subjects.config, codec.encode({ type: 'ConfigApplied', v: 1, epoch, scs: 'scs-test', config: r.config }));
  return epoch;
};

export type Started = { proc: Proc; lca: number; get: (app: string) => { seq: number; pid: number } };

/** Starts the LCA of `log.host` (`extra`: more flags) and waits for its LcaStarted and the AppStarted of each of `apps`. */
export const startSdkLca = async (bed: Bed, log: EventLog, apps: string[], extra: string[] = []): Promise<Started> => {
  const proc = bed.spawnLca(log.host, extra);
  const started = await log.waitFor('LcaStarted', (e) => e.pid === proc.pid);
  const inc: Record<string, { seq: number; pid: number }> = {};
  for (const app of apps) {
    const s = await log.waitFor('AppStarted', (e) => e.app === app && e.lca === started.seq);
    inc[app] = { seq: s.seq, pid: s.event.pid };
    bed.track([s.event.pid]);
  }
  return {
    proc,
    lca: started.seq,
    get: (app) => {
      const i = inc[app];
      if (!i) throw new Error(`no AppStarted of ${app}`);
      return i;
    },
  };
};

export type Reply = { status: number; body: Record<string, unknown> };

export const http = async (c: Counter, method: 'GET' | 'POST', path: string): Promise<Reply> => {
  const res = await fetch(`http://${c.endpoint}${path}`, { method, signal: AbortSignal.timeout(2000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

export type RecordLine = { app: string; pid: number; event: 'role' | 'fenced' | 'unfenced'; role: string; monoNs: string };

/** The lines of a counter-server's --record file so far. */
export const records = (c: Counter): RecordLine[] =>
  existsSync(c.record)
    ? readFileSync(c.record, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as RecordLine)
    : [];

/** True once `/proc/<pid>` is gone: the process was reaped, not merely dead. */
export const reaped = (pid: number): boolean => !existsSync(`/proc/${pid}`);
