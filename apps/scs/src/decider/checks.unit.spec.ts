import { describe, expect, it } from 'vitest';
import { validateConfig, type ClusterConfig } from '@ha/events';
import { Sim, pairConfig } from './sim.spec-kit.js';
import { MAX_EVENT_NUMBER_JUMP } from './decide.js';
import { statusDoc } from '../runtime/status.js';

// What the product checks itself, in the decider (docs/security.md): what the broker cannot know.

const withEvilApp = (base: ClusterConfig): ClusterConfig => {
  const r = validateConfig({ ...base, applications: [...base.applications, { id: 'pwn', host: 'host-a', command: ['sh', '-c', 'touch /tmp/pwned'] }] });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

describe('a configuration of a stale epoch', () => {
  it('is ignored: the configuration in force stays and nothing is started', () => {
    const s = Sim.running(pairConfig());
    const stale = s.state.epoch;
    s.claim('scs-2');
    const before = s.state;
    const effects = s.scs({ type: 'ConfigApplied', v: 1, epoch: stale, scs: 'scs-1', config: withEvilApp(s.config) });
    expect(effects).toEqual([]);
    expect(s.state.config).toBe(before.config);
    expect(s.state.configSeq).toBe(before.configSeq);
    expect(s.state.apps.has('pwn')).toBe(false);
    expect(s.state.counts.ignored).toBe(before.counts.ignored + 1);
  });

  it('is ignored when its epoch names no claim, or one to come', () => {
    const s = Sim.running(pairConfig());
    for (const epoch of [0, s.state.epoch + 1, s.seq + 5]) {
      const before = s.state;
      expect(s.scs({ type: 'ConfigApplied', v: 1, epoch, scs: 'x', config: withEvilApp(s.config) })).toEqual([]);
      expect(s.state.config).toBe(before.config);
    }
  });
});

describe('host events no configured LCA can have sent', () => {
  const forgedStatus = (s: Sim, over: { host?: string; app?: string; lca?: number; n: number }) => {
    const host = over.host ?? 'host-a';
    const h = s.state.hosts.get(host);
    const app = over.app ?? 'a0';
    return s.feed({ type: 'AppStatusChanged', v: 1, host, lca: over.lca ?? h?.incarnation ?? 0, n: over.n, app, incarnation: s.state.apps.get(app)?.incarnation ?? 1, status: 'started', detail: null });
  };

  it('an event number far beyond the last does not blind the host: its later real events still count', () => {
    const s = Sim.running(pairConfig());
    const before = s.state;
    expect(forgedStatus(s, { n: 9007199254740000 })).toEqual([]);
    expect(s.state.hosts).toBe(before.hosts);
    s.kill('a0');
    s.settle();
    expect(s.current('a0')).toBe('b0');
    expect(s.announcements.map((a) => [a.from.app, a.to.app, a.reason])).toEqual([['a0', 'b0', 'process-exit']]);
  });

  it(`counts numbers up to ${MAX_EVENT_NUMBER_JUMP} beyond the last seen, and no further`, () => {
    const s = Sim.running(pairConfig());
    const last = s.state.hosts.get('host-a')?.lastN ?? 0;
    forgedStatus(s, { n: last + MAX_EVENT_NUMBER_JUMP + 1 });
    expect(s.state.hosts.get('host-a')?.lastN).toBe(last);
    forgedStatus(s, { n: last + MAX_EVENT_NUMBER_JUMP });
    expect(s.state.hosts.get('host-a')?.lastN).toBe(last + MAX_EVENT_NUMBER_JUMP);
  });

  it('an incarnation the decider saw start for no host, or one not yet in the log, is ignored', () => {
    const s = Sim.running(pairConfig());
    const h = s.state.hosts.get('host-a');
    for (const lca of [(h?.incarnation ?? 0) + 1, s.seq + 1, 2 ** 52]) {
      const before = s.state;
      expect(forgedStatus(s, { lca, n: 1 })).toEqual([]);
      expect(s.state.hosts).toBe(before.hosts);
    }
    s.kill('a0');
    s.settle();
    expect(s.current('a0')).toBe('b0');
  });

  it('events of 15,000 hosts the configuration does not name add nothing, and status lists only configured hosts', () => {
    const s = Sim.running(pairConfig());
    const before = s.state;
    for (let i = 0; i < 15_000; i++) {
      s.feed({ type: 'LcaStarted', v: 1, host: `ghost-${i}`, lca: 0, n: 0, pid: 1, bootId: `g${i}`, ended: [] });
      forgedStatus(s, { host: `ghost-${i}`, lca: s.seq, n: 1 });
    }
    expect(s.state.hosts).toBe(before.hosts);
    expect(s.state.apps).toBe(before.apps);
    const doc = statusDoc(s.state, new Map(), 'scs-1', true, { caughtUp: true, logLastSeq: s.seq });
    expect(doc.hosts.map((h) => h.id)).toEqual(['host-a', 'host-b', 'host-c']);
  });

  it('an application the configuration does not name on that host is neither tracked nor restarted', () => {
    const s = Sim.running(pairConfig());
    const h = s.state.hosts.get('host-a');
    const inc = h?.incarnation ?? 0;
    const n = (h?.lastN ?? 0) + 1;
    const started = s.feed({ type: 'AppStarted', v: 1, host: 'host-a', lca: inc, n, app: 'pwn', pid: 66, role: 'backup', command: null, status: 'started' });
    const exited = s.feed({ type: 'AppExited', v: 1, host: 'host-a', lca: inc, n: n + 1, app: 'pwn', incarnation: s.seq - 1, pid: 66, code: 1, signal: null, expected: false, cause: 'exit' });
    // b0 is configured, on host-b: an event naming it from host-a is not about it either
    const elsewhere = s.feed({ type: 'AppExited', v: 1, host: 'host-a', lca: inc, n: n + 2, app: 'b0', incarnation: s.state.apps.get('b0')?.incarnation ?? 1, pid: 1, code: 1, signal: null, expected: false, cause: 'exit' });
    expect([...started, ...exited, ...elsewhere]).toEqual([]);
    expect(s.state.apps.has('pwn')).toBe(false);
    expect(s.state.timers.size).toBe(0);
    // the ignored events did not use up numbers: the LCA's next real event counts
    expect(s.state.hosts.get('host-a')?.lastN).toBe(n - 1);
    s.kill('a0');
    s.settle();
    expect(s.current('a0')).toBe('b0');
  });
});

describe('an announcement never names the same member on both sides', () => {
  it('a primary that steps down on its own and is the only member available is promoted again, with no announcement', () => {
    const s = Sim.running(pairConfig());
    expect(s.current('a0')).toBe('a0');
    s.kill('b0'); // the backup is down (its restart waits on a timer)
    const a = s.apps.get('a0');
    const h = s.hosts.get('host-a');
    if (!a || !h) throw new Error('sim');
    // the LCA demoted it on its own authority (after an outage its KV entry named another member)
    a.role = 'backup';
    s.feed({ type: 'AppRoleChanged', v: 1, host: 'host-a', lca: h.inc ?? 0, n: ++h.n, app: 'a0', incarnation: a.inc ?? 0, role: 'backup', epoch: s.state.epoch, command: null });
    while (s.deliverOne((c) => c.app === 'a0'));
    expect(s.current('a0')).toBe('a0');
    expect(s.announcements.filter((x) => x.from.app === x.to.app)).toEqual([]);
    expect(s.state.pairs.get('a0')?.lastSwitchover).toBeNull();
    expect(s.kv.get('a0')).toMatchObject({ app: 'a0' });
  });
});

describe('a heartbeat snapshot carried by HostReturned', () => {
  it('is not taken for the truth when its number is far beyond the last event seen', () => {
    for (const jump of [MAX_EVENT_NUMBER_JUMP, MAX_EVENT_NUMBER_JUMP + 1]) {
      const s = Sim.running(pairConfig());
      s.freeze('host-b');
      s.settle();
      const h = s.state.hosts.get('host-b');
      const b0 = s.state.apps.get('b0');
      expect(h?.lca).toBe('lost');
      // a snapshot saying b0 runs as primary, with a pid of its own
      s.scs({ type: 'HostReturned', v: 1, epoch: s.state.epoch, scs: 'scs', host: 'host-b', heartbeat: { type: 'Heartbeat', v: 1, host: 'host-b', lca: h?.incarnation ?? null, n: (h?.lastN ?? 0) + jump, pid: 1, apps: [{ app: 'b0', incarnation: b0?.incarnation ?? 1, pid: 4242, status: 'started', role: 'primary' }] } });
      expect(s.state.apps.get('b0')?.pid === 4242).toBe(jump <= MAX_EVENT_NUMBER_JUMP);
    }
  });
});
