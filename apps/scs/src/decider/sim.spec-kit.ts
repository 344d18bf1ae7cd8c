// A pure model of the LCAs and the detector around the decider, for given/when/then and property
// tests: it feeds inputs, carries out commands as an LCA would, fires timers, and checks the
// invariants after every step. Test-only (excluded from the build).
import type { AppSnapshot, ClusterConfig, Input, Recorded, Role } from '@ha/events';
import { validateConfig } from '@ha/events';
import { checkState, transition } from './decide.js';
import type { AnnounceEffect, CommandEffect, Effect, NoticeEffect, PrimaryEffect } from './effects.js';
import { DECIDER_VERSION, initialState, type State } from './state.js';

type SimHost = { id: string; inc: number | null; n: number; alive: boolean; frozen: boolean; frozenAtN: number; paused: boolean; suspended: boolean };
type SimApp = { id: string; host: string; running: boolean; inc: number | null; pid: number; role: Role };

export const pairConfig = (over: Partial<{ autoSwitchover: boolean; maxAttempts: number; pairs: number }> = {}): ClusterConfig => {
  const n = over.pairs ?? 1;
  const apps = [];
  for (let i = 0; i < n; i++) {
    apps.push({ id: `a${i}`, host: 'host-a', command: ['x'], endpoint: `127.0.0.1:${7000 + i}`, redundancy: { backup: `b${i}`, autoSwitchover: over.autoSwitchover ?? true } });
    apps.push({ id: `b${i}`, host: 'host-b', command: ['x'], endpoint: `127.0.0.1:${7100 + i}` });
  }
  const r = validateConfig({
    cluster: 'sim',
    restart: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: over.maxAttempts ?? 0 },
    hosts: [{ id: 'host-a' }, { id: 'host-b' }, { id: 'host-c' }],
    applications: apps,
  });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

export class Sim {
  state: State = initialState();
  seq = 0;
  at = 1_700_000_000_000;
  readonly log: Recorded<Input>[] = [];
  readonly effects: { seq: number; effects: Effect[] }[] = [];
  readonly hosts = new Map<string, SimHost>();
  readonly apps = new Map<string, SimApp>();
  commands: CommandEffect[] = [];
  timers = new Map<string, number>();
  readonly announcements: AnnounceEffect['announcement'][] = [];
  readonly notices: NoticeEffect[] = [];
  readonly kv = new Map<string, PrimaryEffect['entry']>();
  readonly refusals: string[] = [];
  violations: string[] = [];
  private pid = 1000;

  constructor(readonly config: ClusterConfig) {
    for (const h of config.hosts) this.hosts.set(h.id, { id: h.id, inc: null, n: 0, alive: true, frozen: false, frozenAtN: 0, paused: false, suspended: false });
    for (const a of config.applications) this.apps.set(a.id, { id: a.id, host: a.host, running: false, inc: null, pid: 0, role: 'none' });
  }

  /** Claim, config, every LCA started with its apps, commands carried out: a running cluster. */
  static running(config: ClusterConfig, scs = 'scs-1'): Sim {
    const s = new Sim(config);
    s.claim(scs);
    s.scs({ type: 'ConfigApplied', v: 1, epoch: s.state.epoch, scs, config });
    for (const h of config.hosts) s.startLca(h.id);
    s.settle();
    return s;
  }

  // ---- feeding the decider ----
  feed(input: Input, dt = 1): Effect[] {
    this.at += dt;
    const rec: Recorded<Input> = { seq: ++this.seq, at: this.at, input };
    this.log.push(rec);
    const t = transition(this.state, rec);
    this.state = t.state;
    this.effects.push({ seq: rec.seq, effects: t.effects });
    for (const e of t.effects) this.carry(e);
    this.check();
    return t.effects;
  }

  private carry(e: Effect): void {
    switch (e.kind) {
      case 'command':
        this.commands.push(e);
        break;
      case 'timer':
        this.timers.set(e.id, e.at);
        break;
      case 'announce':
        if (!e.reconcile || !this.announcements.some((a) => a.pair === e.announcement.pair && a.causeSeq === e.announcement.causeSeq)) this.announcements.push(e.announcement);
        break;
      case 'primary':
        this.kv.set(e.entry.pair, e.entry);
        break;
      case 'notice':
        this.notices.push(e);
        break;
    }
  }

  claim(scs = 'scs-1'): Effect[] {
    return this.feed({ type: 'ScsClaimed', v: 1, scs, deciderVersion: DECIDER_VERSION });
  }
  /** An SCS-written input (epoch defaults to the current one). */
  scs(input: Input): Effect[] {
    return this.feed(input);
  }

  private lcaEvent(h: SimHost, body: Record<string, unknown>): Effect[] {
    return this.feed({ ...body, v: 1, host: h.id, lca: h.inc ?? 0, n: ++h.n } as Input);
  }

  startLca(host: string): void {
    const h = this.must(this.hosts, host);
    const ended = [...this.apps.values()].filter((a) => a.host === host && a.running).map((a) => a.id);
    for (const a of this.apps.values()) if (a.host === host) Object.assign(a, { running: false, inc: null, role: 'none' });
    Object.assign(h, { alive: true, frozen: false, n: 0 });
    this.draining.delete(host);
    this.feed({ type: 'LcaStarted', v: 1, host, lca: 0, n: 0, pid: 1, bootId: `b${this.seq}`, ended });
    h.inc = this.seq;
    for (const a of this.apps.values()) if (a.host === host) this.startApp(a, null);
  }

  private startApp(a: SimApp, command: string | null): void {
    const h = this.must(this.hosts, a.host);
    const pid = ++this.pid;
    this.lcaEvent(h, { type: 'AppStarted', app: a.id, pid, role: 'backup', command, status: 'started' });
    Object.assign(a, { running: true, inc: this.seq, pid, role: 'backup' });
  }

  // ---- reports and operators ----
  /** An SDK application reports its ability to serve. */
  report(app: string, status: 'started' | 'service-unavailable'): void {
    const a = this.must(this.apps, app);
    const h = this.must(this.hosts, a.host);
    if (!a.running || !h.alive || h.frozen) return;
    this.lcaEvent(h, { type: 'AppStatusChanged', app, incarnation: a.inc, status, detail: null });
  }
  request(type: 'SwitchoverRequested' | 'PauseRequested' | 'ResumeRequested', pair: string, requestId = `r${this.seq + 1}`): Effect[] {
    return this.feed({ type, v: 1, pair, requestId, by: 'test' });
  }
  /** SIGTERM to an LCA: it asks for a drain; `finishDrain` later stops its apps once none is primary. */
  drain(host: string): void {
    const h = this.must(this.hosts, host);
    if (!h.alive || h.frozen) return;
    this.lcaEvent(h, { type: 'LcaDraining' });
    this.draining.add(host);
  }
  readonly draining = new Set<string>();
  private finishDrains(): boolean {
    for (const host of this.draining) {
      const h = this.must(this.hosts, host);
      if (!h.alive || h.frozen) continue;
      const apps = [...this.apps.values()].filter((a) => a.host === host);
      if (apps.some((a) => a.running && a.role === 'primary') && this.commands.some((c) => c.host === host)) continue;
      for (const a of apps) if (a.running) this.exit(a, 'exit', true);
      this.lcaEvent(h, { type: 'LcaStopped', drained: true });
      h.alive = false;
      this.draining.delete(host);
      return true;
    }
    return false;
  }
  private exit(a: SimApp, cause: 'exit' | 'hung' | 'connection-lost' | 'probe-failed', expected: boolean): void {
    const h = this.must(this.hosts, a.host);
    const inc = a.inc;
    Object.assign(a, { running: false, role: 'none' });
    this.lcaEvent(h, { type: 'AppExited', app: a.id, incarnation: inc, pid: a.pid, code: null, signal: 'SIGKILL', expected, cause });
  }
  /** The LCA killed and reaped an application it found hung, disconnected or failing its probe. */
  fail(app: string, cause: 'hung' | 'connection-lost' | 'probe-failed'): void {
    const a = this.must(this.apps, app);
    const h = this.must(this.hosts, a.host);
    if (!a.running || !h.alive || h.frozen) return;
    this.exit(a, cause, false);
  }

  // ---- faults ----
  kill(app: string): void {
    const a = this.must(this.apps, app);
    const h = this.must(this.hosts, a.host);
    if (!a.running || !h.alive || h.frozen) return;
    const inc = a.inc;
    Object.assign(a, { running: false, role: 'none' });
    this.lcaEvent(h, { type: 'AppExited', app, incarnation: inc, pid: a.pid, code: null, signal: 'SIGKILL', expected: false, cause: 'exit' });
  }
  /** The whole host dies (LCA and apps); the detector then declares it lost. */
  crash(host: string): void {
    const h = this.must(this.hosts, host);
    h.alive = false;
    for (const a of this.apps.values()) if (a.host === host) Object.assign(a, { running: false, role: 'none', inc: null });
    this.commands = this.commands.filter((c) => c.host !== host);
    this.hostLost(host);
  }
  /** SIGSTOP of the LCA and its apps: nothing acts there; the detector declares it lost. */
  /** SIGSTOP of the LCA and its apps: nothing acts there; the detector declares it lost (unless `declare` is false: it has not yet). */
  freeze(host: string, declare = true): void {
    const h = this.must(this.hosts, host);
    if (!h.alive || h.frozen) return;
    h.frozen = true;
    h.frozenAtN = h.n;
    h.paused = !declare;
    if (declare) this.hostLost(host);
  }
  /** The detector's late verdict on a host paused without being declared lost (it may have resumed since). */
  lateLost(host: string): void {
    const h = this.must(this.hosts, host);
    if (!h.alive || !h.paused) return;
    h.paused = false;
    this.hostLost(host, this.state.epoch, h.frozenAtN);
  }
  /** The detector's observation, judged by the last heartbeat it saw (which carried `n`). */
  hostLost(host: string, epoch = this.state.epoch, n?: number): void {
    const h = this.must(this.hosts, host);
    const evidence = n ?? (h.frozen ? h.frozenAtN : h.n);
    this.scs({ type: 'HostLost', v: 1, epoch, scs: 'scs', host, lca: h.inc, n: evidence, lastHeartbeatAt: null, silenceMs: 1000 });
  }
  /**
   * SIGCONT: the LCA records LcaResumed, then, if its host was declared lost before that, demotes
   * its primaries on its own; then the detector sees heartbeats again.
   */
  unfreeze(host: string): void {
    const h = this.must(this.hosts, host);
    if (!h.alive || !h.frozen) return;
    h.frozen = false;
    h.suspended = true; // its primaries do not act until the check below is done
    this.lcaEvent(h, { type: 'LcaResumed', gapMs: 1000, cause: 'paused' });
    const resumedSeq = this.seq;
    const lastObs = [...this.log].reverse().find((r) => (r.input.type === 'HostLost' || r.input.type === 'HostReturned') && r.input.host === host);
    if (lastObs && lastObs.input.type === 'HostLost' && lastObs.seq < resumedSeq) {
      for (const a of this.apps.values()) {
        if (a.host !== host || !a.running || a.role !== 'primary') continue;
        a.role = 'backup';
        this.lcaEvent(h, { type: 'AppRoleChanged', app: a.id, incarnation: a.inc, role: 'backup', epoch: this.state.epoch, command: null });
      }
    }
    h.suspended = false;
    if (this.state.hosts.get(host)?.lca === 'up') return; // not declared lost: no HostReturned
    const apps: AppSnapshot[] = [...this.apps.values()].filter((a) => a.host === host).map((a) => ({ app: a.id, incarnation: a.running ? a.inc : null, pid: a.running ? a.pid : null, status: a.running ? 'started' : 'stopped', role: a.running ? a.role : 'none' }));
    this.scs({ type: 'HostReturned', v: 1, epoch: this.state.epoch, scs: 'scs', host, heartbeat: { type: 'Heartbeat', v: 1, host, lca: h.inc, n: h.n, pid: 1, apps } });
  }

  // ---- the world acting ----
  /** Carries out the oldest deliverable command as the LCA would; false when none is. */
  deliverOne(only: (c: CommandEffect) => boolean = () => true): boolean {
    const i = this.commands.findIndex((c) => { const h = this.hosts.get(c.host); return !!h && h.alive && !h.frozen && only(c); });
    if (i < 0) return false;
    const [c] = this.commands.splice(i, 1) as [CommandEffect];
    const h = this.must(this.hosts, c.host);
    const a = this.apps.get(c.app);
    const refuse = (reason: string): void => { this.refusals.push(reason); this.lcaEvent(h, { type: 'CommandRefused', app: c.app, command: c.id, reason }); };
    if (c.epoch !== this.state.epoch) { refuse('stale epoch'); return true; }
    if (c.lca !== h.inc) return true;
    if (!a) { refuse('unknown app'); return true; }
    if (c.action === 'start') {
      if (a.running) refuse('already running');
      else this.startApp(a, c.id);
      return true;
    }
    if (!a.running || a.inc !== c.incarnation) { refuse('incarnation'); return true; }
    if (c.action === 'promote' && this.log.some((r) => r.seq > c.causeSeq && (r.input.type === 'HostLost' || r.input.type === 'HostReturned') && r.input.host === c.host)) {
      refuse('host observed lost after this command');
      return true;
    }
    if (c.action === 'stop') {
      const inc = a.inc;
      Object.assign(a, { running: false, role: 'none' });
      this.lcaEvent(h, { type: 'AppExited', app: a.id, incarnation: inc, pid: a.pid, code: 0, signal: null, expected: true, cause: 'exit' });
      return true;
    }
    a.role = c.action === 'promote' ? 'primary' : 'backup';
    this.lcaEvent(h, { type: 'AppRoleChanged', app: a.id, incarnation: a.inc, role: a.role, epoch: c.epoch, command: c.id });
    return true;
  }

  /** Fires the earliest timer (time jumps to it); false when none. */
  fireNextTimer(maxAt = Infinity): boolean {
    const next = [...this.timers.entries()].sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]))[0];
    if (!next || next[1] > maxAt) return false;
    this.timers.delete(next[0]);
    this.at = Math.max(this.at, next[1]);
    this.scs({ type: 'TimerFired', v: 1, epoch: this.state.epoch, scs: 'scs', timer: next[0] });
    return true;
  }

  /** Delivers commands and fires timers until nothing is left before `horizonMs` from now. */
  settle(horizonMs = 60_000): void {
    const until = this.at + horizonMs;
    for (let i = 0; i < 10_000; i++) {
      if (this.deliverOne()) continue;
      if (this.finishDrains()) continue;
      if (!this.fireNextTimer(until)) return;
    }
    throw new Error('did not settle');
  }

  // ---- observations ----
  primaries(pair: string): string[] {
    const p = this.config.applications.find((a) => a.id === pair);
    const members = [pair, p?.redundancy?.backup ?? ''];
    return members.filter((m) => {
      const a = this.apps.get(m);
      const h = a && this.hosts.get(a.host);
      return !!a && !!h && a.running && a.role === 'primary' && h.alive && !h.frozen && !h.suspended;
    });
  }
  current(pair: string): string | null {
    return this.state.pairs.get(pair)?.current ?? null;
  }

  private check(): void {
    for (const p of checkState(this.state)) this.violations.push(`seq ${this.seq}: ${p}`);
    for (const a of this.config.applications) {
      if (!a.redundancy) continue;
      const acting = this.primaries(a.id);
      if (acting.length > 1) this.violations.push(`seq ${this.seq}: two acting primaries of ${a.id}: ${acting.join(', ')}`);
    }
  }

  private must<T>(m: Map<string, T>, k: string): T {
    const v = m.get(k);
    if (!v) throw new Error(`unknown ${k}`);
    return v;
  }
}
