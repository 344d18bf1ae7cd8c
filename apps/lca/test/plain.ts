/**
 * Helpers for tests of applications without the SDK (probes, hooks, drain): configurations with
 * every application field, small `node -e` servers that a test can break, and stored times.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { EVENTS_STREAM, codec, subjects, validateConfig } from '@ha/events';
import type { Proc } from '@ha/test';
import type { Bed, EventLog } from './bed.js';

export const PLAIN_TIMING = {
  heartbeatMs: 100,
  hostTimeoutMs: 600,
  fenceMs: 300,
  appPingMs: 100,
  appTimeoutMs: 500,
  promoteTimeoutMs: 1000,
} as const;

/** Probe settings of the tests: 3 failures, 100 ms apart. */
export const FAST_PROBE = { intervalMs: 100, timeoutMs: 250, failures: 3 } as const;

/** Plays the SCS: a claim, then a configuration with `apps` as given (any application field). */
export const configurePlain = async (
  bed: Bed,
  apps: Record<string, unknown>[],
  o: { hosts?: string[]; timing?: Record<string, number>; epoch?: number } = {},
): Promise<number> => {
  const epoch = o.epoch ?? (await bed.claim());
  const r = validateConfig({
    cluster: 'test',
    timing: { ...PLAIN_TIMING, ...o.timing },
    hosts: (o.hosts ?? ['host-a', 'host-b']).map((id) => ({ id })),
    applications: apps,
  });
  if (!r.ok) throw new Error(`bad test config: ${r.errors.join('; ')}`);
  await bed.js.publish(subjects.config, codec.encode({ type: 'ConfigApplied', v: 1, epoch, scs: 'scs-test', config: r.config }));
  return epoch;
};

/** Starts an LCA for `host` and waits for its LcaStarted and the AppStarted of each of `apps`. */
export const startPlainLca = async (bed: Bed, log: EventLog, apps: string[]) => {
  const proc: Proc = bed.spawnLca(log.host);
  const started = await log.waitFor('LcaStarted', (e) => e.pid === proc.pid);
  const inc: Record<string, { seq: number; pid: number }> = {};
  for (const app of apps) {
    const s = await log.waitFor('AppStarted', (e) => e.app === app && e.lca === started.seq);
    inc[app] = { seq: s.seq, pid: s.event.pid };
  }
  bed.track(Object.values(inc).map((i) => i.pid));
  const get = (app: string): { seq: number; pid: number } => {
    const i = inc[app];
    if (!i) throw new Error(`no AppStarted of ${app}`);
    return i;
  };
  return { proc, lca: started.seq, get };
};

/** JetStream's storage time of an `HA_EVENTS` message, in ms. */
export const storedAt = async (bed: Bed, seq: number): Promise<number> => {
  const sm = await bed.jsm.streams.getMessage(EVENTS_STREAM, { seq });
  if (!sm) throw new Error(`no message ${seq} in ${EVENTS_STREAM}`);
  return sm.time.getTime();
};

/** True once the kernel has no process `pid` any more: it exited *and* was reaped (no zombie). */
export const reaped = (pid: number): boolean => !existsSync(`/proc/${pid}`);

/** Resolves true when a TCP connection to `port` on loopback is accepted. */
export const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

/** An HTTP server: 200 on any path, 500 on everything after a request to `/break`; `/count` says how many other requests it had. */
export const httpServer = (port: number): string[] => [
  'node',
  '-e',
  `let broken=false,n=0;require('http').createServer((q,s)=>{if(q.url==='/break'){broken=true;return s.end('broken')}if(q.url==='/count')return s.end(String(n));n++;s.statusCode=broken?500:200;s.end()}).listen(${port},'127.0.0.1');`,
];

/** A TCP server that closes its listener (and stays alive) on SIGUSR1. */
export const tcpServer = (port: number): string[] => [
  'node',
  '-e',
  `const s=require('net').createServer((c)=>c.destroy()).listen(${port},'127.0.0.1');process.on('SIGUSR1',()=>s.close());setInterval(()=>{},1e6);`,
];

/** Lines of a log file of one process that match. */
export const logLines = (p: Proc, re: RegExp): string[] =>
  existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8').split('\n').filter((l) => re.test(l)) : [];
