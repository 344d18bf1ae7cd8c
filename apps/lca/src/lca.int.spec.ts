import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandDigest, readStat } from './procfs.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { codec, subjects } from '@ha/events';
import { until } from '@ha/test';
import { Bed, LCA_BIN, alive, clusterConfig, type EventLog } from '../test/bed.js';

const H = 'host-a';

/** Plays the SCS: a claim, then a configuration for `apps` under it. */
const configure = async (bed: Bed, apps: Parameters<Bed['applyConfig']>[1], hosts = [H, 'host-b']) => {
  const epoch = await bed.claim();
  await bed.applyConfig(epoch, apps, hosts);
  return epoch;
};

/** Starts an LCA and waits for its LcaStarted and one AppStarted per application; returns incarnations. */
const startLca = async (bed: Bed, log: EventLog, apps: string[], extra: string[] = []) => {
  const proc = bed.spawnLca(H, extra);
  const started = await log.waitFor('LcaStarted', (e) => e.pid === proc.pid);
  const inc: Record<string, { seq: number; pid: number }> = {};
  for (const app of apps) {
    const s = await log.waitFor('AppStarted', (e) => e.app === app && e.lca === started.seq);
    inc[app] = { seq: s.seq, pid: s.event.pid };
  }
  bed.track(Object.values(inc).map((i) => i.pid));
  return { proc, lca: started.seq, inc };
};

describe('lca command line', () => {
  it('prints usage with --help and exits 2 with one line on a bad flag or a bad config file', () => {
    const help = spawnSync(process.execPath, [LCA_BIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: lca --host/);
    const bad = spawnSync(process.execPath, [LCA_BIN, '--host', H, '--bogus'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(['lca: unknown flag --bogus']);
    const file = join(process.env['TMPDIR'] ?? '/tmp', `lca-bad-${process.pid}.yaml`);
    writeFileSync(file, 'cluster: x\nhosts: [{ id: host-a }]\napplications: [{ id: a, host: nowhere, command: [sleep, "1"] }]\n');
    const conf = spawnSync(process.execPath, [LCA_BIN, '--host', H, '--config', file, '--nats', 'nats://127.0.0.1:1'], { encoding: 'utf8', timeout: 10_000 });
    expect(conf.status).toBe(2);
    expect(conf.stderr.trim().split('\n')).toHaveLength(1);
    expect(conf.stderr).toMatch(/applications\[0\]\.host/);
  });
});

describe('lca state directory and broker URL', () => {
  const env = (): NodeJS.ProcessEnv => {
    const e = { ...process.env };
    delete e['HA_NATS_URL'];
    delete e['HA_STATE_DIR'];
    return e;
  };

  it('says which NATS URL it uses when none was given, and refuses a state directory others may write (one line, exit 2, nothing run)', () => {
    const base = mkdtempSync(join(tmpdir(), 'lca-statedir-'));
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r = spawnSync(process.execPath, [LCA_BIN, '--host', H, '--state-dir', open], { encoding: 'utf8', env: env(), timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^lca: state directory ${open} is writable by others \\(mode 777\\): refusing it`));
    expect(r.stdout).toMatch(/no --nats or HA_NATS_URL given: using the default nats:\/\/127\.0\.0\.1:4222/);
    expect(existsSync(join(open, H))).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)('refuses a state directory another user owns (created first under /tmp, say)', () => {
    const base = mkdtempSync(join(tmpdir(), 'lca-statedir-'));
    const theirs = join(base, 'theirs');
    mkdirSync(theirs, { mode: 0o755 });
    chownSync(theirs, 65534, 65534);
    const r = spawnSync(process.execPath, [LCA_BIN, '--host', H, '--state-dir', theirs, '--nats', 'nats://127.0.0.1:1'], { encoding: 'utf8', env: env(), timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^lca: state directory ${theirs} belongs to uid 65534, not to this user \\(uid 0\\): refusing it`));
  });

  it('refuses a state directory that is a symbolic link', () => {
    const base = mkdtempSync(join(tmpdir(), 'lca-statedir-'));
    mkdirSync(join(base, 'real'), { mode: 0o700 });
    symlinkSync(join(base, 'real'), join(base, 'link'));
    const r = spawnSync(process.execPath, [LCA_BIN, '--host', H, '--state-dir', join(base, 'link'), '--nats', 'nats://127.0.0.1:1'], { encoding: 'utf8', env: env(), timeout: 10_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is not a directory \(a symbolic link\?\): refusing it/);
    expect(r.stdout).not.toMatch(/using the default/);
  });
});

describe('lca on a real nats-server', () => {
  let bed: Bed;
  let log: EventLog;
  beforeEach(async () => {
    bed = await Bed.start();
    log = bed.log(H);
  });
  afterEach(async () => {
    await bed?.close();
  });

  it('starts: LcaStarted, then one AppStarted per application as backup, with the environment and pidfiles', async () => {
    const envFile = join(bed.dir, 'env.txt');
    await configure(bed, [
      { id: 'a1', host: H, command: ['sh', '-c', `echo "$HA_APP_ID $HA_ROLE $HA_LCA_SOCKET" > ${envFile}; exec sleep 1000`] },
      { id: 'a2', host: H },
      { id: 'b1', host: 'host-b' },
    ]);
    const { proc, lca, inc } = await startLca(bed, log, ['a1', 'a2']);
    const evs = log.events;
    const first = evs[0];
    expect(first?.event).toMatchObject({ type: 'LcaStarted', host: H, lca: 0, n: 0, pid: proc.pid, ended: [] });
    expect(first?.subject).toBe(subjects.hostEvent(H, 'lca'));
    const starts = log.of('AppStarted');
    expect(starts.map((s) => s.event.app).sort()).toEqual(['a1', 'a2']);
    for (const s of starts) {
      expect(s.event).toMatchObject({ lca, role: 'backup', command: null });
      expect(s.subject).toBe(subjects.hostEvent(H, 'app'));
      expect(alive(s.event.pid)).toBe(true);
    }
    expect(starts.map((s) => s.event.n)).toEqual([1, 2]);
    // Spawned without a shell wrapper: the pid is the command's own (setpriv execs).
    const a2 = inc['a2'];
    expect(a2).toBeDefined();
    expect(readFileSync(`/proc/${a2?.pid}/comm`, 'utf8').trim()).toBe('sleep');
    const pidfile = readFileSync(join(bed.stateDir, H, 'apps', 'a2.pid'), 'utf8').trim().split(' ');
    expect(Number(pidfile[0])).toBe(a2?.pid);
    expect(existsSync(join(bed.stateDir, H, 'lca.pid'))).toBe(true);
    const env = await until('env.txt', () => (existsSync(envFile) ? readFileSync(envFile, 'utf8').trim() : undefined));
    expect(env).toBe(`a1 backup ${join(bed.stateDir, H, 'a1.sock')}`);
    // only this host's applications
    expect(log.events.some((s) => s.event.type === 'AppStarted' && s.event.app === 'b1')).toBe(false);
  });

  it('sends heartbeats on ha.hb.<host> with the LCA incarnation and a snapshot of every application', async () => {
    await configure(bed, [
      { id: 'a1', host: H },
      { id: 'a2', host: H },
    ]);
    const { proc, lca, inc } = await startLca(bed, log, ['a1', 'a2']);
    const hb = await bed.waitForHeartbeat(H, (h) => h.lca === lca && h.apps.every((a) => a.incarnation !== null) && h.n === 2);
    expect(hb).toMatchObject({ type: 'Heartbeat', host: H, lca, n: 2, pid: proc.pid });
    expect(hb.apps).toEqual([
      { app: 'a1', incarnation: inc['a1']?.seq, pid: inc['a1']?.pid, status: 'started', role: 'backup' },
      { app: 'a2', incarnation: inc['a2']?.seq, pid: inc['a2']?.pid, status: 'started', role: 'backup' },
    ]);
  });

  it('promotes under the current epoch, refuses a stale epoch and leaves the role unchanged', async () => {
    const epoch1 = await configure(bed, [{ id: 'a1', host: H }]);
    const { lca, inc } = await startLca(bed, log, ['a1']);
    const a1 = inc['a1']?.seq ?? 0;
    const promote = await bed.command(H, 'a1', 'promote', { epoch: epoch1, lca, incarnation: a1 });
    const changed = await log.waitFor('AppRoleChanged', (e) => e.command === promote);
    expect(changed.event).toMatchObject({ app: 'a1', incarnation: a1, role: 'primary', epoch: epoch1, lca });
    expect(changed.subject).toBe(subjects.hostEvent(H, 'role'));
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.role === 'primary');

    const epoch2 = await bed.claim('scs-other');
    const stale = await bed.command(H, 'a1', 'demote', { epoch: epoch1, lca, incarnation: a1 });
    const refused = await log.waitFor('CommandRefused', (e) => e.command === stale);
    expect(refused.event).toMatchObject({ app: 'a1', reason: `stale epoch ${epoch1}, current ${epoch2}` });
    expect(refused.subject).toBe(subjects.hostEvent(H, 'refused'));
    expect(log.of('AppRoleChanged').filter((s) => s.event.command === stale)).toEqual([]);
    // a heartbeat built after the refusal still says primary
    const hb = await bed.waitForHeartbeat(H, (h) => h.n >= refused.event.n);
    expect(hb.apps[0]?.role).toBe('primary');

    const demote = await bed.command(H, 'a1', 'demote', { epoch: epoch2, lca, incarnation: a1 });
    const back = await log.waitFor('AppRoleChanged', (e) => e.command === demote);
    expect(back.event).toMatchObject({ role: 'backup', epoch: epoch2 });
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.role === 'backup');
  });

  it('refuses commands for unknown applications, other incarnations or a running start; ignores other LCA incarnations', async () => {
    const epoch = await configure(bed, [{ id: 'a1', host: H }, { id: 'a2', host: H }]);
    const { lca, inc } = await startLca(bed, log, ['a1', 'a2']);
    const a1 = inc['a1']?.seq ?? 0;
    const unknown = await bed.command(H, 'zz', 'promote', { epoch, lca, incarnation: a1 });
    expect((await log.waitFor('CommandRefused', (e) => e.command === unknown)).event.reason).toMatch(/unknown application zz/);
    const wrongInc = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: a1 + 1000 });
    expect((await log.waitFor('CommandRefused', (e) => e.command === wrongInc)).event.reason).toMatch(/incarnation/);
    const running = await bed.command(H, 'a1', 'start', { epoch, lca, incarnation: null });
    expect((await log.waitFor('CommandRefused', (e) => e.command === running)).event.reason).toBe('already running');
    // a command for another LCA incarnation produces no event at all: the next event is the next command's
    const other = await bed.command(H, 'a2', 'promote', { epoch, lca: lca + 1000, incarnation: inc['a2']?.seq ?? 0 });
    const after = await bed.command(H, 'a2', 'promote', { epoch, lca, incarnation: inc['a2']?.seq ?? 0 });
    const ok = await log.waitFor('AppRoleChanged', (e) => e.command === after);
    const last = log.events.filter((s) => s.seq < ok.seq).at(-1);
    expect(last?.event).toMatchObject({ type: 'CommandRefused', command: running });
    expect(log.events.some((s) => 'command' in s.event && s.event.command === other)).toBe(false);
  });

  it('refuses a promote decided before its host was observed lost', async () => {
    const epoch = await configure(bed, [{ id: 'a1', host: H }]);
    const { lca, inc } = await startLca(bed, log, ['a1']);
    const cause = await bed.claim('scs-x');
    const epoch2 = cause; // the claim is also the current epoch
    await bed.publishRaw(
      subjects.observation(H),
      codec.encode({ type: 'HostLost', v: 1, epoch: epoch2, scs: 'scs-x', host: H, lca, n: 0, lastHeartbeatAt: null, silenceMs: 700 }),
    );
    const early = await bed.command(H, 'a1', 'promote', { epoch: epoch2, lca, incarnation: inc['a1']?.seq ?? 0, causeSeq: cause });
    expect((await log.waitFor('CommandRefused', (e) => e.command === early)).event.reason).toBe('host observed lost after this command');
    const late = await bed.command(H, 'a1', 'promote', { epoch: epoch2, lca, incarnation: inc['a1']?.seq ?? 0, causeSeq: cause + 10 });
    await log.waitFor('AppRoleChanged', (e) => e.command === late && e.role === 'primary');
    expect(epoch).toBeLessThan(epoch2);
  });

  it('reports a killed application once and does not restart it; start and stop commands work', async () => {
    const epoch = await configure(bed, [{ id: 'a1', host: H }]);
    const { lca, inc } = await startLca(bed, log, ['a1']);
    const first = inc['a1'];
    if (!first) throw new Error('no a1');
    process.kill(first.pid, 'SIGKILL');
    const exited = await log.waitFor('AppExited', (e) => e.app === 'a1');
    expect(exited.event).toMatchObject({ incarnation: first.seq, pid: first.pid, code: null, signal: 'SIGKILL', expected: false, lca });
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.status === 'stopped' && h.apps[0]?.pid === null);
    expect(existsSync(join(bed.stateDir, H, 'apps', 'a1.pid'))).toBe(false);

    const start = await bed.command(H, 'a1', 'start', { epoch, lca, incarnation: first.seq });
    const again = await log.waitFor('AppStarted', (e) => e.app === 'a1', { afterSeq: exited.seq });
    // the first start after the exit is the commanded one: no automatic restart in between
    expect(again.event).toMatchObject({ command: start, role: 'backup' });
    bed.track([again.event.pid]);
    expect(alive(again.event.pid)).toBe(true);

    const stop = await bed.command(H, 'a1', 'stop', { epoch, lca, incarnation: again.seq });
    const stopped = await log.waitFor('AppExited', (e) => e.incarnation === again.seq);
    expect(stopped.event).toMatchObject({ expected: true, signal: 'SIGTERM', pid: again.event.pid });
    expect(log.events.some((s) => s.event.type === 'CommandRefused' && s.event.command === stop)).toBe(false);
    await until('a1 gone', () => !alive(again.event.pid));
  });

  it('logs and skips garbage on the command and configuration subjects and keeps working', async () => {
    const epoch = await configure(bed, [{ id: 'a1', host: H }]);
    const { proc, lca, inc } = await startLca(bed, log, ['a1']);
    const cmdSubject = subjects.command(H, 'a1');
    const garbageSeq = await bed.publishRaw(cmdSubject, new Uint8Array([0xff, 0x00, 0x7b, 0x13]));
    await bed.publishRaw(cmdSubject, codec.encode({ type: 'AppCommand', v: 1, id: 'x', action: 'explode' }));
    await bed.publishRaw(subjects.config, new Uint8Array([0x00, 0x01, 0x02]));
    await bed.publishRaw(subjects.config, codec.encode({ type: 'ConfigApplied', v: 1, epoch, scs: 's', config: { cluster: 'x' } }));
    await bed.waitForLog(proc, new RegExp(`"seq":${garbageSeq}.*malformed command skipped|malformed command skipped.*"seq":${garbageSeq}`));
    await bed.waitForLog(proc, /"malformed":2.*malformed command skipped|malformed command skipped.*"malformed":2/);
    await bed.waitForLog(proc, /"malformed":2.*malformed configuration message skipped|malformed configuration message skipped.*"malformed":2/);
    expect(proc.running).toBe(true);
    // the bad configurations changed nothing: a1 still runs
    await bed.waitForHeartbeat(H, (h) => h.apps.length === 1 && h.apps[0]?.status === 'started');
    const promote = await bed.command(H, 'a1', 'promote', { epoch, lca, incarnation: inc['a1']?.seq ?? 0 });
    await log.waitFor('AppRoleChanged', (e) => e.command === promote && e.role === 'primary');
  });

  it('follows a new configuration: starts added applications, stops removed ones (expected)', async () => {
    const epoch = await configure(bed, [{ id: 'a1', host: H }, { id: 'a2', host: H }]);
    const { inc } = await startLca(bed, log, ['a1', 'a2']);
    await bed.applyConfig(epoch, [{ id: 'a1', host: H }, { id: 'a3', host: H }], [H]);
    const gone = await log.waitFor('AppExited', (e) => e.app === 'a2');
    expect(gone.event).toMatchObject({ expected: true, incarnation: inc['a2']?.seq });
    const a3 = await log.waitFor('AppStarted', (e) => e.app === 'a3');
    bed.track([a3.event.pid]);
    await bed.waitForHeartbeat(H, (h) => h.apps.map((a) => `${a.app}:${a.status}`).join() === 'a1:started,a3:started');
    expect(log.of('AppStarted').filter((s) => s.event.app === 'a1')).toHaveLength(1);
  });

  it('ignores a configuration whose epoch is not the one in force where it sits in the log (one line), and keeps its own', async () => {
    const e1 = await configure(bed, [{ id: 'a1', host: H }]);
    const { proc } = await startLca(bed, log, ['a1']);
    const e2 = await bed.claim();
    const pwned = join(bed.dir, `pwned-${process.pid}`);
    const evil = [{ id: 'a1', host: H }, { id: 'pwn', host: H, command: ['sh', '-c', `touch ${pwned}; sleep 1000`] }];
    const stale = await bed.applyConfig(e1, evil, [H]); // a claim (e2) came in between
    const notAClaim = await bed.applyConfig(stale, evil, [H]); // names a message that is no claim
    const future = await bed.applyConfig(notAClaim + 5, evil, [H]);
    await bed.waitForLog(proc, new RegExp(`"seq":${stale}.*configuration of a stale or unknown epoch ignored`));
    await bed.waitForLog(proc, new RegExp(`"seq":${notAClaim}.*configuration of a stale or unknown epoch ignored`));
    await bed.waitForLog(proc, new RegExp(`"seq":${future}.*configuration of a stale or unknown epoch ignored`));
    // a configuration of the epoch in force, appended after them, is applied: they were judged before it
    await bed.applyConfig(e2, [{ id: 'a1', host: H }, { id: 'ok2', host: H }], [H]);
    const ok2 = await log.waitFor('AppStarted', (e) => e.app === 'ok2');
    bed.track([ok2.event.pid]);
    expect(log.events.filter((s) => s.event.type === 'AppStarted' && s.event.app === 'pwn')).toEqual([]);
    expect(existsSync(pwned)).toBe(false);
    expect(readFileSync(proc.logFile, 'utf8').split('\n').filter((l) => /stale or unknown epoch ignored/.test(l))).toHaveLength(3);
  });

  it('at start, a stale last configuration is ignored and the latest one of its epoch is applied', async () => {
    const e1 = await configure(bed, [{ id: 'a1', host: H }]);
    await bed.claim();
    const pwned = join(bed.dir, `pwned-start-${process.pid}`);
    const stale = await bed.applyConfig(e1, [{ id: 'pwn', host: H, command: ['sh', '-c', `touch ${pwned}; sleep 1000`] }], [H]);
    const { proc } = await startLca(bed, log, ['a1']);
    await bed.waitForLog(proc, new RegExp(`"seq":${stale}.*configuration of a stale or unknown epoch ignored`));
    await bed.waitForHeartbeat(H, (h) => h.apps.map((a) => `${a.app}:${a.status}`).join() === 'a1:started');
    expect(log.events.filter((s) => s.event.type === 'AppStarted' && s.event.app === 'pwn')).toEqual([]);
    expect(existsSync(pwned)).toBe(false);
  });

  it('publishes an event whose id someone took first again under the next number, and says so', async () => {
    await configure(bed, [{ id: 'a1', host: H }]);
    const { proc, lca, inc } = await startLca(bed, log, ['a1']);
    await bed.waitForHeartbeat(H, (h) => h.apps[0]?.status === 'started');
    const last = Math.max(...(await log.poll()).filter((s) => s.event.lca === lca).map((s) => s.event.n));
    // the next event's id is predictable: taken first, JetStream dropped the real event as a duplicate
    const forged = { type: 'AppStatusChanged', v: 1, host: H, lca, n: last + 1, app: 'a1', incarnation: inc['a1']?.seq ?? 0, status: 'started', detail: 'forged' };
    await bed.js.publish(subjects.hostEvent(H, 'status'), codec.encode(forged), { msgID: `lca:${H}:${lca}:${last + 1}` });
    process.kill(inc['a1']?.pid ?? 0, 'SIGKILL');
    const exited = await log.waitFor('AppExited', (e) => e.app === 'a1' && e.incarnation === inc['a1']?.seq);
    expect(exited.event.n).toBe(last + 2);
    await bed.waitForLog(proc, new RegExp(`event id taken by another message.*"msgID":"lca:${H}:${lca}:${last + 1}"|"msgID":"lca:${H}:${lca}:${last + 1}".*event id taken by another message`));
  });

  it('kills what a pidfile names only when the start time and the command of its process both match', async () => {
    const spawnSleep = (secs: string) => {
      const c = spawn('sleep', [secs], { stdio: 'ignore' });
      if (c.pid === undefined) throw new Error('cannot spawn sleep');
      bed.track([c.pid]);
      return c.pid;
    };
    const unrelated = spawnSleep('1001');
    const ours = spawnSleep('1002');
    await until('both sleeps exec\'d', () => (readFileSync(`/proc/${unrelated}/cmdline`, 'utf8').startsWith('sleep') && readFileSync(`/proc/${ours}/cmdline`, 'utf8').startsWith('sleep') ? true : undefined), 5000, 10);
    const apps = join(bed.stateDir, H, 'apps');
    mkdirSync(apps, { recursive: true, mode: 0o700 });
    const start = (pid: number) => readStat(pid)?.startTime ?? '?';
    // anyone can read a start time in /proc: the old form (pid and start time) is not trusted
    writeFileSync(join(apps, 'old.pid'), `${unrelated} ${start(unrelated)}\n`);
    writeFileSync(join(apps, 'other.pid'), `${unrelated} ${start(unrelated)} ${commandDigest(['node', 'server.js'])}\n`);
    writeFileSync(join(apps, 'left.pid'), `${ours} ${start(ours)} ${commandDigest(['sleep', '1002'])}\n`);
    await configure(bed, [{ id: 'a1', host: H }]);
    const proc = bed.spawnLca(H);
    const started = await log.waitFor('LcaStarted', (e) => e.pid === proc.pid);
    expect(started.event.ended).toEqual(['left']);
    expect(alive(unrelated)).toBe(true);
    expect(alive(ours)).toBe(false);
    await bed.waitForLog(proc, /names a process running another command \(or has no command\): left alone/);
  });

  it('uses --config until the log holds a configuration', async () => {
    const file = join(bed.dir, 'cluster.json');
    writeFileSync(file, JSON.stringify(clusterConfig([{ id: 'f1', host: H }], [H])));
    const { proc } = await startLca(bed, log, ['f1'], ['--config', file]);
    const epoch = await bed.claim();
    await bed.applyConfig(epoch, [{ id: 'l1', host: H }], [H]);
    await log.waitFor('AppExited', (e) => e.app === 'f1' && e.expected);
    const l1 = await log.waitFor('AppStarted', (e) => e.app === 'l1');
    bed.track([l1.event.pid]);
    expect(proc.running).toBe(true);
  });

  it('waits for a configuration when there is none', async () => {
    const proc = bed.spawnLca(H);
    await log.waitFor('LcaStarted', (e) => e.pid === proc.pid);
    await bed.waitForLog(proc, /waiting for configuration/);
    await bed.waitForHeartbeat(H, (h) => h.apps.length === 0 && h.lca !== null);
    await configure(bed, [{ id: 'a1', host: H }]);
    const s = await log.waitFor('AppStarted', (e) => e.app === 'a1');
    bed.track([s.event.pid]);
  });

  it('on SIGTERM stops every application (expected), removes its pidfile and exits 0', async () => {
    await configure(bed, [{ id: 'a1', host: H }, { id: 'a2', host: H }]);
    const { proc, inc } = await startLca(bed, log, ['a1', 'a2']);
    proc.signal('SIGTERM');
    const { code } = await proc.exited;
    expect(code).toBe(0);
    for (const app of ['a1', 'a2']) {
      const e = await log.waitFor('AppExited', (x) => x.app === app, { timeoutMs: 3000 });
      expect(e.event).toMatchObject({ expected: true, incarnation: inc[app]?.seq });
      expect(alive(inc[app]?.pid ?? 0)).toBe(false);
    }
    expect(existsSync(join(bed.stateDir, H, 'lca.pid'))).toBe(false);
  });
});
