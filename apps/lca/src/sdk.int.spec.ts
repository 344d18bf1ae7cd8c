import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '@ha/test';
import { Bed, alive, type EventLog } from '../test/bed.js';
import { COUNTER_BIN, SDK_TIMING, configureSdk, counter, counterApp, http, records, reaped, startSdkLca } from '../test/sdk.js';
import { HELLO_TIMEOUTS } from './appLink.js';

const H = 'host-a';

describe('counter-server outside an LCA', () => {
  it('says it is not run under an LCA and exits 2', () => {
    const env = { ...process.env };
    delete env['HA_LCA_SOCKET'];
    const r = spawnSync(process.execPath, [COUNTER_BIN, '--port', '0'], { encoding: 'utf8', env, timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not run under an LCA/);
  });
});

describe('SDK applications (counter-server) under a real LCA', () => {
  let bed: Bed;
  let log: EventLog;
  beforeEach(async () => {
    bed = await Bed.start();
    log = bed.log(H);
  });
  afterEach(async () => {
    await bed?.close();
  });

  it('starts as starting, reports started (AppStatusChanged), and answers pings without being judged hung', async () => {
    const a1 = await counter(bed, 'a1', H);
    await configureSdk(bed, [counterApp(a1)]);
    const { get } = await startSdkLca(bed, log, ['a1']);
    const started = log.of('AppStarted').find((s) => s.event.app === 'a1');
    expect(started?.event).toMatchObject({ status: 'starting', role: 'backup', pid: get('a1').pid });
    const ok = await log.waitFor('AppStatusChanged', (e) => e.app === 'a1');
    expect(ok.event).toMatchObject({ incarnation: get('a1').seq, status: 'started', detail: null });
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.status === 'started');
    // Twice appTimeoutMs worth of pings answered, and the LCA still has it running.
    const pings = 2 * (SDK_TIMING.appTimeoutMs / SDK_TIMING.appPingMs);
    await until(`${pings} pings answered`, async () => ((await http(a1, 'GET', '/ha/test/pings')).body['pings'] as number) >= pings, 10_000, 50);
    await log.poll();
    expect(log.of('AppExited')).toEqual([]);
    expect(alive(get('a1').pid)).toBe(true);
    expect((await http(a1, 'GET', '/ha/test/pings')).body['connected']).toBe(true);
    expect((await http(a1, 'GET', '/ha/role')).body).toEqual({ app: 'a1', role: 'backup', acting: false });
    expect(existsSync(join(bed.stateDir, H, 'a1.sock'))).toBe(true);
  });

  it('service-unavailable and started reports become AppStatusChanged events and show in the heartbeat', async () => {
    const a1 = await counter(bed, 'a1', H);
    await configureSdk(bed, [counterApp(a1)]);
    const { get } = await startSdkLca(bed, log, ['a1']);
    const first = await log.waitFor('AppStatusChanged', (e) => e.app === 'a1' && e.status === 'started');
    await http(a1, 'POST', '/ha/unavailable?detail=db%20down');
    const down = await log.waitFor('AppStatusChanged', (e) => e.status === 'service-unavailable', { afterSeq: first.seq });
    expect(down.event).toMatchObject({ app: 'a1', incarnation: get('a1').seq, detail: 'db down' });
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.status === 'service-unavailable');
    await http(a1, 'POST', '/ha/available');
    const up = await log.waitFor('AppStatusChanged', (e) => e.status === 'started', { afterSeq: down.seq });
    expect(up.event).toMatchObject({ app: 'a1', incarnation: get('a1').seq, detail: null });
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.status === 'started');
  });

  it('promote runs the application\'s handler first, then AppRoleChanged; only then does it take writes; demote likewise', async () => {
    // A handler that takes 300 ms: an LCA that did not wait for the confirmation would publish first.
    const a1 = await counter(bed, 'a1', H, { roleDelayMs: 300 });
    const epoch = await configureSdk(bed, [counterApp(a1, { redundancy: { backup: 'b1' } }), { id: 'b1', host: 'host-b', command: ['sleep', '1000'] }]);
    const { lca, get } = await startSdkLca(bed, log, ['a1']);
    await log.waitFor('AppStatusChanged', (e) => e.app === 'a1' && e.status === 'started');
    expect((await http(a1, 'POST', '/incr')).status).toBe(409);

    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    const changed = await log.waitFor('AppRoleChanged', (e) => e.command === promote);
    expect(records(a1).map((r) => `${r.event}:${r.role}`)).toEqual(['role:primary']);
    expect(changed.event).toMatchObject({ app: 'a1', role: 'primary', epoch, incarnation: get('a1').seq });
    // a lease came with the promotion (fence pair): it acts at once, and keeps acting on heartbeat leases
    expect(await http(a1, 'POST', '/incr')).toEqual({ status: 200, body: { count: 1 } });
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.role === 'primary');
    await until('several leases later', async () => (await http(a1, 'GET', '/ha/test/pings')).body['pings'] as number >= 10);
    // On a loaded machine a heartbeat can go unacked for longer than fenceMs (300 ms here): the
    // lease lapses and the primary fences until the next stored heartbeat, as it must (a CI run did,
    // issue 10). So it acts again by then: a refused write changes nothing.
    expect(await until('a write accepted', async () => {
      const r = await http(a1, 'POST', '/incr');
      return r.status === 200 ? r : undefined;
    })).toEqual({ status: 200, body: { count: 2 } });
    expect((await http(a1, 'GET', '/ha/role')).body).toMatchObject({ app: 'a1', role: 'primary' });

    const demote = await bed.command(H, 'a1', 'demote', { epoch, lca, incarnation: get('a1').seq });
    const back = await log.waitFor('AppRoleChanged', (e) => e.command === demote);
    expect(back.event.role).toBe('backup');
    const lines = records(a1).map((r) => `${r.event}:${r.role}`);
    expect(lines.filter((l) => l.startsWith('role:'))).toEqual(['role:primary', 'role:backup']);
    // any lapse in between was a fence and its end, in that order, while primary
    expect(lines.filter((l) => !l.startsWith('role:')).join(' ')).toMatch(/^(fenced:primary unfenced:primary ?)*$/);
    expect((await http(a1, 'POST', '/incr')).status).toBe(409);
    expect(log.of('CommandRefused')).toEqual([]);
  });

  it('a promotion not confirmed within promoteTimeoutMs is refused (no confirmation) and taken back', async () => {
    const a1 = await counter(bed, 'a1', H, { roleDelayMs: SDK_TIMING.promoteTimeoutMs + 1000 });
    const epoch = await configureSdk(bed, [counterApp(a1)]);
    const { lca, get } = await startSdkLca(bed, log, ['a1']);
    await log.waitFor('AppStatusChanged', (e) => e.app === 'a1' && e.status === 'started');
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    const refused = await log.waitFor('CommandRefused', (e) => e.command === promote);
    expect(refused.event).toMatchObject({ app: 'a1', reason: 'no confirmation', kind: 'refused' });
    // the late handler finishes, then the application is told to be backup again (its lease has
    // lapsed by then, so it records a fence too)
    const roles = () => records(a1).filter((r) => r.event === 'role').map((r) => r.role).join();
    await until('taken back', () => roles() === 'primary,backup', 10_000);
    expect((await http(a1, 'GET', '/ha/role')).body).toMatchObject({ role: 'backup', acting: false });
    await log.poll();
    expect(log.of('AppRoleChanged')).toEqual([]);
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.role === 'backup');
  });

  it('peer check: a keep-serving backup told to promote while its peer answers primary refuses (kind peer-check)', async () => {
    const B = 'host-b';
    const logB = bed.log(B);
    const p = await counter(bed, 'p', B);
    const q = await counter(bed, 'q', H);
    const epoch = await configureSdk(bed, [counterApp(p, { redundancy: { backup: 'q', whenAgentLost: 'keep-serving' } }), counterApp(q)]);
    const onB = await startSdkLca(bed, logB, ['p']);
    const onA = await startSdkLca(bed, log, ['q']);
    await logB.waitFor('AppStatusChanged', (e) => e.app === 'p' && e.status === 'started');
    await log.waitFor('AppStatusChanged', (e) => e.app === 'q' && e.status === 'started');

    const promoteP = await bed.command(B, 'p', 'promote', { epoch, lca: onB.lca, incarnation: onB.get('p').seq });
    await logB.waitFor('AppRoleChanged', (e) => e.command === promoteP && e.role === 'primary');
    expect((await http(p, 'GET', '/ha/role')).body).toEqual({ app: 'p', role: 'primary', acting: true });

    const promoteQ = await bed.command(H, 'q', 'promote', { epoch, lca: onA.lca, incarnation: onA.get('q').seq });
    const refused = await log.waitFor('CommandRefused', (e) => e.command === promoteQ);
    expect(refused.event).toMatchObject({ app: 'q', kind: 'peer-check' });
    expect(refused.event.reason).toMatch(new RegExp(`peer p at ${p.endpoint.replace(/\./g, '\\.')} answers primary`));
    expect(records(q)).toEqual([]);
    expect((await http(q, 'GET', '/ha/role')).body).toEqual({ app: 'q', role: 'backup', acting: false });

    // once the peer stepped down, the same promotion goes through
    const demoteP = await bed.command(B, 'p', 'demote', { epoch, lca: onB.lca, incarnation: onB.get('p').seq });
    await logB.waitFor('AppRoleChanged', (e) => e.command === demoteP && e.role === 'backup');
    const again = await bed.command(H, 'q', 'promote', { epoch, lca: onA.lca, incarnation: onA.get('q').seq });
    await log.waitFor('AppRoleChanged', (e) => e.command === again && e.role === 'primary');
    expect((await http(q, 'GET', '/ha/role')).body).toEqual({ app: 'q', role: 'primary', acting: true });
  });

  it(`an SDK application that never says hello is hung after ${HELLO_TIMEOUTS} × appTimeoutMs`, async () => {
    await configureSdk(bed, [{ id: 'mute', host: H, command: ['sleep', '1000'], probe: { kind: 'sdk' } }]);
    const { get } = await startSdkLca(bed, log, ['mute']);
    const exited = await log.waitFor('AppExited', (e) => e.app === 'mute', { timeoutMs: HELLO_TIMEOUTS * SDK_TIMING.appTimeoutMs + 10_000 });
    expect(reaped(get('mute').pid)).toBe(true);
    expect(exited.event).toMatchObject({ cause: 'hung', signal: 'SIGKILL', expected: false, pid: get('mute').pid });
  });
});
