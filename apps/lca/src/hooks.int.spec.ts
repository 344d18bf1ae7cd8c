import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bed, sleepApp, type EventLog } from '../test/bed.js';
import { configurePlain, logLines, startPlainLca } from '../test/plain.js';

const H = 'host-a';

describe('onPromote, onDemote and precondition of applications without the SDK', () => {
  let bed: Bed;
  let log: EventLog;
  beforeEach(async () => {
    bed = await Bed.start();
    log = bed.log(H);
  });
  afterEach(async () => {
    await bed?.close();
  });

  /** A hook that writes `$HA_APP_ID $HA_ROLE $HA_EPOCH` to `file` after `delay` seconds, then exits `code`. */
  const hook = (file: string, code = 0, delay = '0') => ['sh', '-c', `sleep ${delay}; echo "$HA_APP_ID $HA_ROLE $HA_EPOCH" > "$0"; exit ${code}`, file];
  const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);

  it('confirms a promotion only after onPromote exited 0, and a demotion after onDemote', async () => {
    const promoted = join(bed.dir, 'promoted');
    const demoted = join(bed.dir, 'demoted');
    const epoch = await configurePlain(bed, [{ id: 'a1', host: H, command: sleepApp(), onPromote: hook(promoted, 0, '0.3'), onDemote: hook(demoted) }]);
    const { lca, get } = await startPlainLca(bed, log, ['a1']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    const changed = await log.waitFor('AppRoleChanged', (e) => e.command === promote);
    // the hook (slow on purpose) had written its file by the time the promotion was confirmed
    expect(read(promoted)).toBe(`a1 primary ${epoch}`);
    expect(changed.event).toMatchObject({ role: 'primary', epoch });
    expect(read(demoted)).toBeUndefined();
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.role === 'primary');

    const demote = await bed.command(H, 'a1', 'demote', { epoch, lca, incarnation: get('a1').seq });
    await log.waitFor('AppRoleChanged', (e) => e.command === demote && e.role === 'backup');
    expect(read(demoted)).toBe(`a1 backup ${epoch}`);
  });

  it('refuses a promotion whose onPromote exits non-zero (kind hook); the role stays backup', async () => {
    const promoted = join(bed.dir, 'promoted');
    const epoch = await configurePlain(bed, [{ id: 'a1', host: H, command: sleepApp(), onPromote: hook(promoted, 1) }]);
    const { lca, get } = await startPlainLca(bed, log, ['a1']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    const refused = await log.waitFor('CommandRefused', (e) => e.command === promote);
    expect(refused.event).toMatchObject({ app: 'a1', kind: 'hook', reason: 'onPromote exited with code 1' });
    expect(read(promoted)).toBe(`a1 primary ${epoch}`);
    expect(log.of('AppRoleChanged')).toEqual([]);
    const hb = await bed.waitForHeartbeat(H, (h) => h.n >= refused.event.n);
    expect(hb.apps[0]?.role).toBe('backup');
  });

  it('refuses a promotion whose onPromote outlives promoteTimeoutMs (kind hook)', async () => {
    const epoch = await configurePlain(bed, [{ id: 'a1', host: H, command: sleepApp(), onPromote: ['sleep', '30'] }], { timing: { promoteTimeoutMs: 500 } });
    const { lca, get } = await startPlainLca(bed, log, ['a1']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    const refused = await log.waitFor('CommandRefused', (e) => e.command === promote);
    expect(refused.event).toMatchObject({ kind: 'hook', reason: 'onPromote timed out after 500 ms' });
    expect(log.of('AppRoleChanged')).toEqual([]);
  });

  it('refuses a promotion whose precondition fails (kind precondition) without running onPromote', async () => {
    const promoted = join(bed.dir, 'promoted');
    const checked = join(bed.dir, 'checked');
    const epoch = await configurePlain(bed, [
      { id: 'a1', host: H, command: sleepApp(), precondition: hook(checked, 3), onPromote: hook(promoted) },
      { id: 'a2', host: H, command: sleepApp(), precondition: ['true'] },
    ]);
    const { lca, get } = await startPlainLca(bed, log, ['a1', 'a2']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    const refused = await log.waitFor('CommandRefused', (e) => e.command === promote);
    expect(refused.event).toMatchObject({ app: 'a1', kind: 'precondition', reason: 'precondition exited with code 3' });
    // the precondition sees the role the application has now
    expect(read(checked)).toBe(`a1 backup ${epoch}`);
    expect(read(promoted)).toBeUndefined();
    // a precondition that holds lets the promotion through
    const ok = await bed.command(H, 'a2', 'promote', { epoch, lca, incarnation: get('a2').seq });
    await log.waitFor('AppRoleChanged', (e) => e.command === ok && e.role === 'primary');
    expect(log.of('AppRoleChanged').map((s) => s.event.app)).toEqual(['a2']);
  });

  it('a promotion whose epoch was superseded while its onPromote ran is refused, and onDemote undoes it', async () => {
    const promoted = join(bed.dir, 'promoted');
    const demoted = join(bed.dir, 'demoted');
    const epoch = await configurePlain(bed, [{ id: 'a1', host: H, command: sleepApp(), onPromote: hook(promoted, 0, '0.5'), onDemote: hook(demoted) }], { timing: { promoteTimeoutMs: 3000 } });
    const { proc, lca, get } = await startPlainLca(bed, log, ['a1']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    await bed.waitForLog(proc, /"msg":"running onPromote"/);
    const later = await bed.claim('scs-other'); // a new SCS claims while the hook runs
    const refused = await log.waitFor('CommandRefused', (e) => e.command === promote);
    expect(refused.event).toMatchObject({ app: 'a1', kind: 'refused', reason: `stale epoch ${epoch} after the promotion's hooks, current ${later}` });
    expect(read(promoted)).toBe(`a1 primary ${epoch}`);
    expect(read(demoted)).toBe(`a1 backup ${epoch}`);
    expect(log.of('AppRoleChanged')).toEqual([]);
    const hb = await bed.waitForHeartbeat(H, (h) => h.n >= refused.event.n);
    expect(hb.apps[0]?.role).toBe('backup');
  });

  it('a slow onPromote holds up only its own application: the others of the host are promoted meanwhile, each in its order', async () => {
    const slow = join(bed.dir, 'slow');
    const epoch = await configurePlain(
      bed,
      [
        { id: 'a1', host: H, command: sleepApp(), onPromote: hook(slow, 0, '1') },
        { id: 'a2', host: H, command: sleepApp() },
        { id: 'a3', host: H, command: sleepApp() },
      ],
      { timing: { promoteTimeoutMs: 3000 } },
    );
    const { lca, get } = await startPlainLca(bed, log, ['a1', 'a2', 'a3']);
    const p1 = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    const d1 = await bed.command(H, 'a1', 'demote', { epoch, lca, incarnation: get('a1').seq });
    const p2 = await bed.command(H, 'a2', 'promote', { epoch, lca, incarnation: get('a2').seq });
    const p3 = await bed.command(H, 'a3', 'promote', { epoch, lca, incarnation: get('a3').seq });
    const back = await log.waitFor('AppRoleChanged', (e) => e.command === d1, { timeoutMs: 10_000 });
    expect(back.event.role).toBe('backup');
    // a2 and a3 were confirmed while a1's hook still ran; a1's demotion waited for its promotion
    expect(log.of('AppRoleChanged').map((e) => e.event.command)).toEqual([p2, p3, p1, d1]);
    expect(read(slow)).toBe(`a1 primary ${epoch}`);
  });

  it('demotes even when onDemote fails, with a warning naming the exit', async () => {
    const epoch = await configurePlain(bed, [{ id: 'a1', host: H, command: sleepApp(), onDemote: ['sh', '-c', 'exit 7'] }]);
    const { proc, lca, get } = await startPlainLca(bed, log, ['a1']);
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: get('a1').seq });
    await log.waitFor('AppRoleChanged', (e) => e.command === promote);
    const demote = await bed.command(H, 'a1', 'demote', { epoch, lca, incarnation: get('a1').seq });
    const back = await log.waitFor('AppRoleChanged', (e) => e.command === demote);
    expect(back.event.role).toBe('backup');
    expect(log.of('CommandRefused')).toEqual([]);
    expect(logLines(proc, /onDemote failed; demoted all the same/).join()).toMatch(/onDemote exited with code 7/);
  });
});
