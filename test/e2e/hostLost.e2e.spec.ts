import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alive, Cluster, type ClusterSpec } from '@ha/test';
import { stopChecked } from './invariants.js';

const spec: ClusterSpec = {
  hosts: ['host-a', 'host-b', 'host-c'],
  pairs: [
    { primary: 'x1', backup: 'x1b', primaryHost: 'host-a', backupHost: 'host-b' },
    { primary: 'x2', backup: 'x2b', primaryHost: 'host-a', backupHost: 'host-c' },
  ],
};

describe('a host is lost', () => {
  let c: Cluster;
  beforeEach(async () => {
    c = await Cluster.start(spec);
  });
  afterEach(async () => {
    await stopChecked(c);
  });

  const appPids = async (host: string) => (await c.status()).applications.filter((a) => a.host === host).map((a) => a.pid!);

  it('SIGKILL of an LCA with its applications: every primary on it is switched over (host-lost); the new LCA starts them as backup', async () => {
    const lca = c.lcas.get('host-a')!;
    const pids = await appPids('host-a');
    const sw = [c.nextSwitchover('x1'), c.nextSwitchover('x2')];
    lca.signal('SIGKILL');
    for (const p of pids) process.kill(p, 'SIGKILL');
    const [a1, a2] = await Promise.all(sw);
    expect([a1!.reason, a2!.reason]).toEqual(['host-lost', 'host-lost']);
    expect([a1!.to.app, a2!.to.app]).toEqual(['x1b', 'x2b']);
    const events = await c.events();
    const lost = events.find((e) => e.seq === a1!.causeSeq);
    expect(lost?.data).toMatchObject({ type: 'HostLost', host: 'host-a' });
    const s = await c.status();
    expect(s.hosts.find((h) => h.id === 'host-a')?.lca).toBe('lost');
    expect(s.applications.filter((a) => a.host === 'host-a').map((a) => [a.status, a.pid])).toEqual([['unknown', null], ['unknown', null]]);
    // the host comes back with a new LCA: its applications start as backup and stay backup
    c.startLca('host-a');
    const back = await c.waitStatus('host-a back, apps started', (st) =>
      st.hosts.find((h) => h.id === 'host-a')?.lca === 'up' && st.applications.filter((a) => a.host === 'host-a').every((a) => a.status === 'started') ? st : undefined);
    expect(back.applications.filter((a) => a.host === 'host-a').map((a) => a.role)).toEqual(['backup', 'backup']);
    expect(back.pairs.map((p) => p.current)).toEqual(['x1b', 'x2b']);
  });

  it('SIGSTOP of an LCA with its applications: switched over; after SIGCONT the old primaries are demoted at once', async () => {
    const lca = c.lcas.get('host-a')!;
    const pids = await appPids('host-a');
    const sw = [c.nextSwitchover('x1'), c.nextSwitchover('x2')];
    lca.signal('SIGSTOP');
    for (const p of pids) process.kill(p, 'SIGSTOP');
    const [a1] = await Promise.all(sw);
    expect(a1!.reason).toBe('host-lost');
    for (const p of pids) process.kill(p, 'SIGCONT');
    lca.signal('SIGCONT');
    const s = await c.waitStatus('host-a up again with its old apps as backup', (st) =>
      st.hosts.find((h) => h.id === 'host-a')?.lca === 'up' && st.applications.filter((a) => a.host === 'host-a').every((a) => a.role === 'backup' && a.status === 'started') ? st : undefined);
    expect(s.applications.filter((a) => a.host === 'host-a').map((a) => a.pid)).toEqual(pids); // same processes, demoted
    expect(s.pairs.map((p) => p.current)).toEqual(['x1b', 'x2b']);
    const events = await c.events();
    const demoted = events.filter((e) => e.data['type'] === 'AppRoleChanged' && e.data['host'] === 'host-a' && e.data['role'] === 'backup');
    expect(demoted.map((e) => e.data['app']).sort()).toEqual(['x1', 'x2']);
    // the host came back through HostReturned, whose heartbeat carries the applications' snapshots
    const returned = events.find((e) => e.data['type'] === 'HostReturned' && e.data['host'] === 'host-a');
    expect((returned?.data['heartbeat'] as { apps: { app: string }[] } | undefined)?.apps.map((a) => a.app).sort()).toEqual(['x1', 'x2']);
  });

  it('an LCA killed alone takes its plain-process applications with it; the pairs switch over', async () => {
    const pids = await appPids('host-a');
    const sw = [c.nextSwitchover('x1'), c.nextSwitchover('x2')];
    c.lcas.get('host-a')!.signal('SIGKILL');
    await c.waitStatus('apps of host-a gone (pdeathsig)', () => pids.every((p) => !alive(p)));
    const [a1, a2] = await Promise.all(sw);
    expect([a1!.to.app, a2!.to.app]).toEqual(['x1b', 'x2b']);
  });
});
