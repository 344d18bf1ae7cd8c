import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, Cluster, type ClusterSpec } from '@ha/test';
import { stopChecked } from './invariants.js';

const spec: ClusterSpec = {
  hosts: ['host-a', 'host-b'],
  pairs: [
    { primary: 'o1', backup: 'o1b', primaryHost: 'host-a', backupHost: 'host-b' },
    { primary: 'o2', backup: 'o2b', primaryHost: 'host-a', backupHost: 'host-b' },
  ],
  restart: { initialDelayMs: 100, maxDelayMs: 2000 },
};

/** Runs hactl to completion (async, so the test process keeps serving its NATS connection). */
const hactl = (c: Cluster, ...args: string[]): Promise<{ code: number | null; out: string; err: string }> =>
  new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN.hactl, ...args], { env: { ...process.env, HA_NATS_URL: c.nats.url } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, out, err }));
  });

describe('operator control', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start(spec);
  });
  afterAll(async () => {
    await stopChecked(c);
  });

  it('hactl switchover: graceful (demote confirmed, then promote), reason manual, no process restarted, exit 0', async () => {
    const before = await c.status();
    const pids = before.applications.map((a) => a.pid);
    const r = await hactl(c, 'switchover', 'o1');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/switched over o1: o1@host-a -> o1b@host-b \(manual/);
    const s = await c.status();
    expect(s.pairs.find((p) => p.id === 'o1')?.current).toBe('o1b');
    expect(s.applications.map((a) => a.pid)).toEqual(pids);
    expect(s.applications.every((a) => a.restarts === 0)).toBe(true);
    const events = await c.events();
    const demoted = events.findIndex((e) => e.data['type'] === 'AppRoleChanged' && e.data['app'] === 'o1' && e.data['role'] === 'backup');
    const promoted = events.findIndex((e) => e.data['type'] === 'AppRoleChanged' && e.data['app'] === 'o1b' && e.data['role'] === 'primary');
    expect(demoted).toBeGreaterThan(0);
    expect(promoted).toBeGreaterThan(demoted);
    // and back again
    const back = await hactl(c, 'switchover', 'o1');
    expect(back.code, back.err).toBe(0);
    expect((await c.status()).pairs.find((p) => p.id === 'o1')?.current).toBe('o1');
  });

  it('is refused, with the reason and exit 1, when the backup is not available; when paused; for an unknown pair', async () => {
    const lcaB = c.lcas.get('host-b')!;
    const pidsB = (await c.status()).applications.filter((a) => a.host === 'host-b').map((a) => a.pid!);
    lcaB.signal('SIGSTOP');
    for (const pid of pidsB) process.kill(pid, 'SIGSTOP');
    await c.waitStatus('host-b lost', (st) => st.hosts.find((h) => h.id === 'host-b')?.lca === 'lost');
    const unavailable = await hactl(c, 'switchover', 'o1');
    expect(unavailable.code).toBe(1);
    expect(unavailable.out).toMatch(/refused: backup o1b is not available \(host host-b is lost\)/);
    for (const pid of pidsB) process.kill(pid, 'SIGCONT');
    lcaB.signal('SIGCONT');
    await c.waitStatus('host-b back', (st) => st.hosts.every((h) => h.lca === 'up') && st.applications.every((a) => a.status === 'started'));
    const r = await hactl(c, 'switchover', 'nope');
    expect(r.code).toBe(1);
    expect(r.out).toContain('no pair nope');
    await hactl(c, 'pause', 'o2');
    const s = await c.status();
    const refused = await hactl(c, 'switchover', 'o2');
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/refused: pair o2 is paused/);
    expect(s.pairs.find((p) => p.id === 'o2')?.state).toBe('paused');
    await hactl(c, 'resume', 'o2');
  });

  it('pause: a failure is shown and nothing is done; resume: it is repaired', async () => {
    const p = await hactl(c, 'pause', 'o2');
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/o2 paused/);
    const s0 = await c.status();
    const victim = c.app(s0, 'o2');
    process.kill(victim.pid!, 'SIGKILL');
    const shown = await c.waitStatus('failure shown while paused', (s) => (c.app(s, 'o2').status === 'stopped' ? s : undefined));
    expect(shown.pairs.find((x) => x.id === 'o2')).toMatchObject({ state: 'paused', current: null, lastFailure: { app: 'o2', reason: 'process-exit' } });
    // nothing automatic: no promotion and no restart is decided while paused
    const decided = (await c.events()).filter((e) => e.seq > shown.scs.lastSeq! && e.data['type'] === 'TimerFired');
    expect(decided).toEqual([]);
    const sw = c.nextSwitchover('o2');
    const r = await hactl(c, 'resume', 'o2');
    expect(r.code, r.err).toBe(0);
    expect(await sw).toMatchObject({ to: { app: 'o2b' }, reason: 'process-exit', causeSeq: expect.any(Number) });
    await c.waitStatus('o2 restarted as backup', (s) => c.app(s, 'o2').status === 'started' && c.app(s, 'o2').role === 'backup');
  });

  it('exits 2 on a bad call, and when no SCS acts (timeout)', async () => {
    const usage = await hactl(c, 'switchover');
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/needs a pair/);
    for (const p of c.scs.values()) p.signal('SIGSTOP'); // resumed by stop() after the test
    const r = await hactl(c, 'switchover', 'o1', '--timeout', '1500');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no outcome within 1500 ms/);
    for (const p of c.scs.values()) p.signal('SIGCONT');
  });
});
