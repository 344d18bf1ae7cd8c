import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseHeartbeat, subjects, type Heartbeat } from '@ha/events';
import { until } from '@ha/test';
import { Bed, alive, sleepApp, type EventLog } from '../test/bed.js';
import { PLAIN_TIMING, configurePlain, logLines, startPlainLca } from '../test/plain.js';

const H = 'host-a';

describe('drain: SIGTERM to an LCA', () => {
  let bed: Bed;
  let log: EventLog;
  beforeEach(async () => {
    bed = await Bed.start();
    log = bed.log(H);
  });
  afterEach(async () => {
    await bed?.close();
  });

  const apps = [
    { id: 'a1', host: H, command: sleepApp() },
    { id: 'a2', host: H, command: sleepApp() },
  ];

  /** Every heartbeat of H published from now on (core subscription: also those the stream replaces). */
  const heartbeats = () => {
    const seen: Heartbeat[] = [];
    const sub = bed.nc.subscribe(subjects.heartbeat(H), {
      callback: (_e, m) => {
        const r = parseHeartbeat(m.data);
        if (r.ok) seen.push(r.value);
      },
    });
    return { seen, stop: () => sub.unsubscribe() };
  };

  it('records LcaDraining, keeps heartbeating and carrying out commands until the SCS demoted the primary, then stops (drained)', async () => {
    const epoch = await configurePlain(bed, apps);
    const { proc, lca, get } = await startPlainLca(bed, log, ['a1', 'a2']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    await log.waitFor('AppRoleChanged', (e) => e.command === promote);
    const hbs = heartbeats();

    proc.signal('SIGTERM');
    const draining = await log.waitFor('LcaDraining');
    expect(draining.event.lca).toBe(lca);
    // Longer than hostTimeoutMs: the LCA keeps heartbeating, its primary still acting and running.
    await until('heartbeats during the drain', () => hbs.seen.filter((h) => h.n >= draining.event.n && h.apps[0]?.role === 'primary').length >= 8);
    hbs.stop();
    expect(proc.running).toBe(true);
    expect(alive(get('a1').pid)).toBe(true);
    expect(log.of('AppExited')).toEqual([]);

    // commands are still carried out; a promotion onto a draining host is refused
    const refusedPromote = await bed.command(H, 'a2', 'promote', { epoch, lca, incarnation: get('a2').seq });
    const refused = await log.waitFor('CommandRefused', (e) => e.command === refusedPromote);
    expect(refused.event.reason).toMatch(/draining/);
    const demote = await bed.command(H, 'a1', 'demote', { epoch, lca, incarnation: get('a1').seq });
    const demoted = await log.waitFor('AppRoleChanged', (e) => e.command === demote && e.role === 'backup');

    const stopped = await log.waitFor('LcaStopped');
    expect(stopped.event).toMatchObject({ drained: true, lca });
    expect((await proc.exited).code).toBe(0);
    const exits = log.of('AppExited');
    expect(exits.map((s) => s.event.app).sort()).toEqual(['a1', 'a2']);
    for (const e of exits) {
      expect(e.event.expected).toBe(true);
      expect(e.seq).toBeGreaterThan(demoted.seq);
      expect(e.seq).toBeLessThan(stopped.seq);
    }
    expect(alive(get('a1').pid)).toBe(false);
    expect(logLines(proc, /"msg":"drained: no application is primary"/)).toHaveLength(1);
  });

  it('stops at once when nothing is primary', async () => {
    // a bound of 2 × 3000 + 600 ms: stopping well before it shows the drain did not wait
    await configurePlain(bed, apps, { timing: { promoteTimeoutMs: 3000 } });
    const { proc, lca } = await startPlainLca(bed, log, ['a1', 'a2']);
    const t0 = Date.now();
    proc.signal('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    const draining = await log.waitFor('LcaDraining');
    const stopped = await log.waitFor('LcaStopped');
    expect(stopped.event).toMatchObject({ drained: true, lca });
    expect(log.of('AppExited').every((s) => s.seq > draining.seq && s.seq < stopped.seq && s.event.expected)).toBe(true);
    expect(log.of('AppExited')).toHaveLength(2);
  });

  it('stops after 2 × promoteTimeoutMs + hostTimeoutMs when the primary is not moved away, and says so', async () => {
    const epoch = await configurePlain(bed, apps, { timing: { promoteTimeoutMs: 500 } });
    const { proc, lca, get } = await startPlainLca(bed, log, ['a1', 'a2']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    await log.waitFor('AppRoleChanged', (e) => e.command === promote);
    const t0 = Date.now();
    proc.signal('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2 * 500 + PLAIN_TIMING.hostTimeoutMs);
    const stopped = await log.waitFor('LcaStopped');
    expect(stopped.event.drained).toBe(true);
    expect(logLines(proc, /drain bound passed/).join()).toMatch(/"primaries":\["a1"\]/);
    expect(alive(get('a1').pid)).toBe(false);
  });

  it('a second signal during the drain stops at once: LcaStopped with drained false', async () => {
    const epoch = await configurePlain(bed, apps, { timing: { promoteTimeoutMs: 3000 } });
    const { proc, lca, get } = await startPlainLca(bed, log, ['a1', 'a2']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    await log.waitFor('AppRoleChanged', (e) => e.command === promote);
    proc.signal('SIGTERM');
    await log.waitFor('LcaDraining');
    const t0 = Date.now();
    proc.signal('SIGINT');
    expect((await proc.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    const stopped = await log.waitFor('LcaStopped');
    expect(stopped.event).toMatchObject({ drained: false, lca });
    expect(log.of('AppExited').map((s) => s.event.app).sort()).toEqual(['a1', 'a2']);
    expect(alive(get('a1').pid)).toBe(false);
  });

  it('SIGINT stops without draining', async () => {
    await configurePlain(bed, apps);
    const { proc } = await startPlainLca(bed, log, ['a1', 'a2']);
    proc.signal('SIGINT');
    expect((await proc.exited).code).toBe(0);
    const stopped = await log.waitFor('LcaStopped');
    expect(stopped.event.drained).toBe(false);
    expect(log.of('LcaDraining')).toEqual([]);
  });
});
