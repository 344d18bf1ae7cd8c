// A fleet of simulated LCAs for the benchmarks: N hosts with 10 applications each (5 pairs per
// host, the backups on the next host), whose events are built with the real schemas and whose
// answers to the SCS's commands are those of a real LCA (apps/lca/src/commands.ts, outbox.ts): a
// promote or demote of the named incarnation is carried out and reported as `AppRoleChanged`, a
// start as `AppStarted` (with the command's id), anything else as `CommandRefused`. No I/O here:
// the scale simulator publishes what it builds, the projection bench feeds it to the decider.
import { lcaEventSubject, subjects, validateConfig, type AppCommand, type AppSnapshot, type ClusterConfig, type Heartbeat, type LcaEvent, type Role, type Timing } from '@ha/events';

export const PAIRS_PER_HOST = 5;

/** The cluster file of a fleet: host `h<i>` runs primaries `p<i>x<k>` and the backups `b<i-1>x<k>` of its neighbour. */
export const fleetConfig = (hosts: number, timing: Partial<Timing> = {}, cluster = 'bench'): ClusterConfig => {
  const ids = Array.from({ length: hosts }, (_, i) => `h${i}`);
  const applications = [];
  for (let i = 0; i < hosts; i++) {
    for (let k = 0; k < PAIRS_PER_HOST; k++) {
      applications.push({ id: `p${i}x${k}`, host: ids[i], command: ['sleep', 'infinity'], endpoint: `10.0.${i % 250}.1:${7000 + k}`, redundancy: { backup: `b${i}x${k}` } });
      applications.push({ id: `b${i}x${k}`, host: ids[(i + 1) % hosts], command: ['sleep', 'infinity'], endpoint: `10.0.${(i + 1) % 250}.2:${7000 + k}` });
    }
  }
  const r = validateConfig({ cluster, timing, hosts: ids.map((id) => ({ id })), applications });
  if (!r.ok) throw new Error(r.errors.slice(0, 3).join('; '));
  return r.config;
};

export type SimApp = {
  readonly id: string;
  readonly host: SimHost;
  /** Its pair's id (the configured primary's id). */
  pair: string;
  /** The other member of its pair. */
  partner: SimApp;
  incarnation: number | null;
  /** A start is under way: its `AppStarted` is not stored yet. */
  starting: boolean;
  pid: number | null;
  role: Role;
  status: 'started' | 'service-unavailable' | 'stopped';
};

export type SimHost = {
  readonly id: string;
  readonly index: number;
  readonly bootId: string;
  readonly pid: number;
  /** LCA incarnation: the sequence of its stored `LcaStarted`. */
  lca: number | null;
  /** Number of the last event built, and of the last one stored. */
  n: number;
  lastStoredN: number;
  readonly apps: SimApp[];
};

/** An event to append to `HA_EVENTS`; `stored` must be called with its sequence once it is. */
export type Outgoing = Readonly<{ subject: string; msgID: string; event: LcaEvent; host: SimHost }>;

type Body = LcaEvent extends infer E ? (E extends LcaEvent ? Omit<E, 'v' | 'host' | 'lca' | 'n'> : never) : never;

export class Fleet {
  readonly hosts: SimHost[] = [];
  readonly hostById = new Map<string, SimHost>();
  readonly apps = new Map<string, SimApp>();
  /** Pair id -> its configured primary. */
  readonly pairs = new Map<string, SimApp>();
  #pid = 10_000;
  /** Latest epoch seen in a command: an earlier one is refused, as a real LCA refuses stale epochs. */
  epoch = 0;
  refused = 0;
  ignored = 0;
  /** Refusals by reason (numbers left out). */
  readonly refusals: Record<string, number> = {};

  constructor(readonly config: ClusterConfig) {
    config.hosts.forEach((h, index) => {
      const host: SimHost = { id: h.id, index, bootId: `sim-${index}`, pid: 1000 + index, lca: null, n: 0, lastStoredN: 0, apps: [] };
      this.hosts.push(host);
      this.hostById.set(h.id, host);
    });
    for (const a of config.applications) {
      const host = this.hostById.get(a.host)!;
      const app = { id: a.id, host, pair: a.id, incarnation: null, starting: false, pid: null, role: 'none', status: 'stopped' } as unknown as SimApp;
      host.apps.push(app);
      this.apps.set(a.id, app);
    }
    for (const a of config.applications) {
      if (!a.redundancy) continue;
      const p = this.apps.get(a.id)!;
      const b = this.apps.get(a.redundancy.backup)!;
      p.partner = b;
      b.partner = p;
      b.pair = a.id;
      this.pairs.set(a.id, p);
    }
  }

  #build(host: SimHost, body: Body): Outgoing {
    if (body.type === 'LcaStarted') {
      return { host, subject: subjects.hostEvent(host.id, 'lca'), msgID: `lca:${host.id}:boot-${host.bootId}:0`, event: { ...body, v: 1, host: host.id, lca: 0, n: 0 } };
    }
    if (host.lca === null) throw new Error(`${body.type} of ${host.id} before its LcaStarted was stored`);
    const n = ++host.n;
    return { host, subject: lcaEventSubject(host.id, body.type), msgID: `lca:${host.id}:${host.lca}:${n}`, event: { ...body, v: 1, host: host.id, lca: host.lca, n } };
  }

  /** What a stored event taught: the LCA's incarnation, an application's incarnation, the last stored number. */
  stored(o: Outgoing, seq: number): void {
    const e = o.event;
    if (e.type === 'LcaStarted') {
      o.host.lca = seq;
      o.host.n = 0;
      o.host.lastStoredN = 0;
      return;
    }
    if (e.lca !== o.host.lca) return;
    if (e.n > o.host.lastStoredN) o.host.lastStoredN = e.n;
    if (e.type === 'AppStarted') {
      const a = this.apps.get(e.app)!;
      a.incarnation = seq;
      a.starting = false;
    }
  }

  lcaStarted(host: SimHost): Outgoing {
    host.lca = null;
    host.n = 0;
    for (const a of host.apps) Object.assign(a, { incarnation: null, starting: false, pid: null, role: 'none', status: 'stopped' });
    return this.#build(host, { type: 'LcaStarted', pid: host.pid, bootId: host.bootId, ended: [] });
  }

  /** The LCA spawned `app` (on its own at start, or on a start command): it runs as backup. */
  appStarted(app: SimApp, command: string | null = null): Outgoing {
    app.starting = true;
    app.incarnation = null;
    app.pid = ++this.#pid;
    app.role = 'backup';
    app.status = 'started';
    return this.#build(app.host, { type: 'AppStarted', app: app.id, pid: app.pid, role: 'backup', command, status: 'started' });
  }

  statusChanged(app: SimApp, status: 'started' | 'service-unavailable'): Outgoing {
    if (app.incarnation === null) throw new Error(`${app.id} has no incarnation`);
    app.status = status;
    return this.#build(app.host, { type: 'AppStatusChanged', app: app.id, incarnation: app.incarnation, status, detail: status === 'started' ? null : 'bench' });
  }

  /** The application's process exited on its own (not on command). */
  exited(app: SimApp): Outgoing {
    if (app.incarnation === null) throw new Error(`${app.id} has no incarnation`);
    const ev = this.#build(app.host, { type: 'AppExited', app: app.id, incarnation: app.incarnation, pid: app.pid, code: 1, signal: null, expected: false, cause: 'exit' });
    Object.assign(app, { incarnation: null, starting: false, pid: null, role: 'none', status: 'stopped' });
    return ev;
  }

  /** A command of the active SCS, answered as the LCA of its host would; null when not ours to answer. */
  onCommand(cmd: AppCommand): Outgoing | null {
    const host = this.hostById.get(cmd.host);
    if (!host || host.lca === null || cmd.lca !== host.lca) {
      this.ignored++;
      return null;
    }
    const refuse = (reason: string): Outgoing => {
      this.refused++;
      const why = reason.replace(/\d+/g, 'N');
      this.refusals[why] = (this.refusals[why] ?? 0) + 1;
      return this.#build(host, { type: 'CommandRefused', app: cmd.app, command: cmd.id, reason, kind: 'refused' });
    };
    if (cmd.epoch < this.epoch) return refuse(`stale epoch ${cmd.epoch}, current ${this.epoch}`);
    this.epoch = cmd.epoch;
    const app = this.apps.get(cmd.app);
    if (!app || app.host !== host) return refuse(`unknown application ${cmd.app}`);
    switch (cmd.action) {
      case 'start':
        if (app.starting || app.incarnation !== null) return refuse('already running');
        return this.appStarted(app, cmd.id);
      case 'stop': {
        if (app.incarnation === null) return refuse('not running');
        const ev = this.#build(host, { type: 'AppExited', app: app.id, incarnation: app.incarnation, pid: app.pid, code: null, signal: 'SIGTERM', expected: true, cause: 'exit' });
        Object.assign(app, { incarnation: null, pid: null, role: 'none', status: 'stopped' });
        return ev;
      }
      case 'promote':
      case 'demote': {
        if (app.starting) return refuse('starting: its AppStarted is not stored yet');
        if (app.incarnation === null) return refuse('not running');
        if (app.incarnation !== cmd.incarnation) return refuse(`incarnation mismatch: running ${app.incarnation}, command for ${cmd.incarnation ?? 'none'}`);
        app.role = cmd.action === 'promote' ? 'primary' : 'backup';
        return this.#build(host, { type: 'AppRoleChanged', app: app.id, incarnation: app.incarnation, role: app.role, epoch: cmd.epoch, command: cmd.id });
      }
    }
  }

  heartbeat(host: SimHost): Heartbeat {
    const apps: AppSnapshot[] = host.apps.map((a) => ({ app: a.id, incarnation: a.incarnation, pid: a.pid, status: a.starting ? 'starting' : a.status, role: a.role }));
    return { type: 'Heartbeat', v: 1, host: host.id, lca: host.lca, n: host.lastStoredN, pid: host.pid, apps };
  }

  /** Pairs with exactly one member acting as primary. */
  pairsWithPrimary(): number {
    let n = 0;
    for (const p of this.pairs.values()) if ((p.role === 'primary') !== (p.partner.role === 'primary')) n++;
    return n;
  }
}
