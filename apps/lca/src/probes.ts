import { get as httpGet, type ClientRequest } from 'node:http';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import type { Logger } from '@ha/bus';
import { monoMs } from '@ha/bus';
import type { ApplicationConfig, Role } from '@ha/events';
import { appEnv, describeEnd, runBounded } from './hooks.js';
import type { Outbox } from './outbox.js';
import type { ManagedApp, Run, Supervisor } from './supervisor.js';

export type ProbeConfig = ApplicationConfig['probe'];
export type ProbeResult = { ok: true } | { ok: false; detail: string };

/** Probe kinds the LCA runs itself (applications without the SDK). */
export const isProbed = (p: ProbeConfig): boolean => p.kind === 'tcp' || p.kind === 'http' || p.kind === 'exec';

/** `host:port`, `[v6]:port` or `:port` (loopback). */
export const parseAddress = (s: string): { host: string; port: number } | null => {
  const i = s.lastIndexOf(':');
  if (i < 0) return null;
  const port = Number(s.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return null;
  const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '127.0.0.1' : host, port };
};

const fail = (detail: string): ProbeResult => ({ ok: false, detail });
const OK: ProbeResult = { ok: true };

const probeTcp = (address: string, timeoutMs: number): Promise<ProbeResult> =>
  new Promise((resolve) => {
    const a = parseAddress(address);
    if (!a) {
      resolve(fail(`tcp: bad address ${JSON.stringify(address)}`));
      return;
    }
    const socket = connect({ host: a.host, port: a.port });
    const done = (r: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(fail(`tcp ${address}: no connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => done(OK));
    socket.once('error', (e) => done(fail(`tcp ${address}: ${e.message}`)));
  });

const probeHttp = (url: string, timeoutMs: number): Promise<ProbeResult> =>
  new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve(fail(`http: bad url ${JSON.stringify(url)}`));
      return;
    }
    let settled = false;
    let req: ClientRequest | undefined;
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(fail(`http ${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    // A fresh connection per probe (agent: false): a kept-alive socket would hide a closed listener.
    const get = u.protocol === 'https:' ? httpsGet : httpGet;
    try {
      req = get(u, { agent: false, headers: { 'user-agent': 'ha-lca-probe' } }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        done(code >= 200 && code < 300 ? OK : fail(`http ${url}: status ${code}`));
      });
      req.once('error', (e) => done(fail(`http ${url}: ${e.message}`)));
    } catch (e) {
      done(fail(`http ${url}: ${(e as Error).message}`));
    }
  });

/** One probe attempt of `cfg`, bounded by its `timeoutMs`; `role` is the application's current role (exec's HA_ROLE). */
export const probeOnce = async (cfg: ApplicationConfig, role: Role): Promise<ProbeResult> => {
  const p = cfg.probe;
  switch (p.kind) {
    case 'tcp':
      return probeTcp(p.address ?? cfg.endpoint ?? '', p.timeoutMs);
    case 'http':
      return probeHttp(p.url ?? `http://${cfg.endpoint ?? ''}/`, p.timeoutMs);
    case 'exec': {
      if (!p.command) return fail('exec: no command');
      const end = await runBounded(p.command, { env: appEnv(cfg, { HA_ROLE: role }), cwd: cfg.cwd, timeoutMs: p.timeoutMs });
      return end.ok ? OK : fail(describeEnd('exec probe', end));
    }
    case 'process':
    case 'sdk':
      return OK;
  }
};

/**
 * Probes one run of an application every `intervalMs` (one attempt at a time, each bounded by
 * `timeoutMs`), reading the probe settings from the application's configuration at every attempt so
 * that a new configuration applies to a running application. The first success calls `onStarted`
 * (the run was `starting`). Failures count only after the first success, or once `startupMs` has
 * passed without one; `failures` consecutive failures call `onFailed` once and end the probing.
 *
 * The start-up bound was `failures × intervalMs` (300 ms with the tests' probes): a run that took
 * longer to listen, as node does on a loaded machine and a JVM always, was killed before it could
 * serve, restarted, killed again (flapping pairs in the e2e suite under load, issue 10).
 */
export class Prober {
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #streak = 0;
  #counting = false;
  readonly #graceUntil: number;

  constructor(
    private readonly m: ManagedApp,
    private readonly run: Run,
    private readonly onFailed: (detail: string, streak: number) => void,
    private readonly log: Logger,
    private readonly onStarted: () => void = () => undefined,
  ) {
    this.#graceUntil = monoMs() + m.config.probe.startupMs;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    void this.#loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#wake?.();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, Math.max(0, ms));
    });
  }

  #live(): boolean {
    return !this.#stopped && this.m.run === this.run && !this.run.stopping && isProbed(this.m.config.probe);
  }

  async #loop(): Promise<void> {
    // The first attempt comes one interval after the spawn: at once it could only fail.
    let last = monoMs();
    await this.#sleep(this.m.config.probe.intervalMs);
    while (this.#live()) {
      last = monoMs();
      const cfg = this.m.config;
      const r = await probeOnce(cfg, this.run.role);
      if (!this.#live()) break;
      if (this.#judge(r, cfg)) return;
      await this.#sleep(last + this.m.config.probe.intervalMs - monoMs());
    }
    this.#stopped = true;
  }

  /** True when the run failed (and probing ends). */
  #judge(r: ProbeResult, cfg: ApplicationConfig): boolean {
    const p = cfg.probe;
    const app = this.m.id;
    if (r.ok) {
      if (this.#streak > 0) this.log.info({ app, pid: this.run.pid, kind: p.kind, failed: this.#streak }, 'probe healthy again');
      this.#streak = 0;
      if (!this.#counting) this.onStarted();
      this.#counting = true;
      return false;
    }
    if (!this.#counting && monoMs() < this.#graceUntil) {
      this.log.debug({ app, pid: this.run.pid, kind: p.kind, detail: r.detail }, 'probe failed while starting; not counted before startupMs');
      return false;
    }
    if (!this.#counting) this.log.warn({ app, pid: this.run.pid, kind: p.kind, startupMs: p.startupMs }, 'no probe passed within startupMs: failures count from now');
    this.#counting = true;
    this.#streak++;
    if (this.#streak === 1) this.log.warn({ app, pid: this.run.pid, kind: p.kind, detail: r.detail }, 'probe failed');
    if (this.#streak < p.failures) return false;
    this.#stopped = true;
    this.onFailed(r.detail, this.#streak);
    return true;
  }
}

/**
 * Starts a `Prober` for every spawned run of an application whose probe is tcp, http or exec; a run
 * that fails its probe is killed and reported `probe-failed` by the supervisor once it was reaped.
 */
export class ProbeManager {
  readonly #probers = new Map<Run, Prober>();

  constructor(
    private readonly supervisor: Supervisor,
    private readonly outbox: Outbox,
    private readonly log: Logger,
  ) {
    supervisor.onStart((m, run) => this.#begin(m, run));
  }

  /** A new configuration: a running application whose probe became tcp/http/exec starts being probed. */
  reconfigure(): void {
    for (const m of this.supervisor.apps()) {
      const run = m.run;
      if (!run || run.stopping) continue;
      const p = this.#probers.get(run);
      if (!p || p.stopped) this.#begin(m, run);
    }
  }

  stopAll(): void {
    for (const p of this.#probers.values()) p.stop();
    this.#probers.clear();
  }

  #begin(m: ManagedApp, run: Run): void {
    if (!isProbed(m.config.probe) || run.stopping || run.cause) return;
    const prober = new Prober(
      m,
      run,
      (detail, streak) => {
        this.log.error({ app: m.id, pid: run.pid, kind: m.config.probe.kind, failures: streak, detail }, 'probe failed too often: killing the application');
        void this.supervisor.fail(m.id, run, 'probe-failed');
      },
      this.log,
      () => this.#started(m, run),
    );
    this.#probers.set(run, prober);
    void run.exited.then(() => {
      prober.stop();
      if (this.#probers.get(run) === prober) this.#probers.delete(run);
    });
    prober.start();
  }

  /** A run's first passed probe: `starting` → `started` (an application that was running when it got a probe is already started). */
  #started(m: ManagedApp, run: Run): void {
    if (run.status !== 'starting' || m.run !== run) return;
    run.status = 'started';
    this.log.info({ app: m.id, pid: run.pid, kind: m.config.probe.kind }, 'first probe passed: application started');
    void this.outbox
      .publish(() => {
        if (run.incarnation === null) throw new Error(`AppStatusChanged of ${m.id} before its AppStarted was stored`);
        return { type: 'AppStatusChanged', app: m.id, incarnation: run.incarnation, status: 'started', detail: null };
      })
      .catch(() => undefined);
  }
}
