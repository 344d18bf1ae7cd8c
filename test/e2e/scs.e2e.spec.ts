import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cluster, until, type ClusterSpec } from '@ha/test';
import { stopChecked } from './invariants.js';

const spec: ClusterSpec = {
  hosts: ['host-a', 'host-b'],
  pairs: [{ primary: 's1', backup: 's1b', primaryHost: 'host-a', backupHost: 'host-b' }],
};

describe('one active SCS', () => {
  let c: Cluster;
  beforeEach(async () => {
    c = await Cluster.start(spec);
  });
  afterEach(async () => {
    await stopChecked(c);
  });

  it('SIGKILL of the active SCS: a standby takes over with a higher epoch within leaseMs plus a margin, and failover keeps working', async () => {
    const before = await c.status();
    expect(before.scs.acting).toBe(true);
    const old = before.scs.active!;
    const killedAt = Date.now();
    c.scs.get(old)!.signal('SIGKILL');
    const after = await c.waitStatus('a new active SCS', (s) => (s.scs.active && s.scs.active !== old ? s : undefined));
    const events = await c.events();
    const claim = events.find((e) => e.seq === after.scs.epoch)!;
    expect(claim.data).toMatchObject({ type: 'ScsClaimed', scs: after.scs.active });
    expect(after.scs.epoch).toBeGreaterThan(before.scs.epoch);

    // the new claim comes after the old lease could have run out (how long it takes is measured by npm run bench)
    expect(claim.at).toBeGreaterThan(killedAt);
    const sw = c.nextSwitchover('s1');
    process.kill(c.app(after, 's1').pid!, 'SIGKILL');
    const a = await sw;
    expect(a).toMatchObject({ to: { app: 's1b' }, epoch: after.scs.epoch });
    // the new leader reads the same file: it found that configuration in the log and appended nothing
    // (it offers it as it becomes active, before the switchover it then carried out)
    expect((await c.events()).filter((e) => e.data['type'] === 'ConfigApplied')).toHaveLength(1);
  });

  it('SIGSTOP of the active SCS past its lease, another takes over, SIGCONT: nothing of the old one counts', async () => {
    const before = await c.status();
    const old = before.scs.active!;
    const oldProc = c.scs.get(old)!;
    oldProc.signal('SIGSTOP');
    const after = await c.waitStatus('another SCS active', (s) => (s.scs.active && s.scs.active !== old ? s : undefined));
    // a failure handled by the new leader while the old one sleeps
    const sw = c.nextSwitchover('s1');
    process.kill(c.app(after, 's1').pid!, 'SIGKILL');
    expect((await sw).epoch).toBe(after.scs.epoch);
    // a stopped SCS cannot swallow status requests: every SCS answers and the first answer wins
    for (let i = 0; i < 10; i++) expect((await c.status(1000)).scs.answeredBy).not.toBe(old);
    oldProc.signal('SIGCONT');
    // just resumed, the old SCS is behind the log: the first answer comes from one that is not, and
    // the old one, asked directly, shows the switchover or says that it has not caught up
    const first = await c.status(3000);
    expect(first.scs).toMatchObject({ caughtUp: true, epoch: after.scs.epoch });
    expect(first.pairs[0]?.current).toBe('s1b');
    const direct = await c.status(3000, old);
    expect(direct.scs.answeredBy).toBe(old);
    if (direct.scs.caughtUp) expect(direct.pairs[0]?.current).toBe('s1b');
    else expect(direct.scs.lastSeq ?? 0).toBeLessThan(direct.scs.logLastSeq ?? 0);
    await until('the old SCS caught up', async () => (await c.status(3000, old)).scs.caughtUp === true);
    // the old SCS notices it lost the lease and steps down without acting
    await c.waitStatus('old SCS stepped down', () => readFileSync(oldProc.logFile, 'utf8').includes('stepping down'));
    const events = await c.events();
    const newClaim = after.scs.epoch;
    const counted = events.filter((e) => e.seq > newClaim && e.data['scs'] === old && e.data['type'] !== 'ScsClaimed' && e.data['epoch'] === before.scs.epoch);
    // anything the old SCS appended under its old epoch after the new claim is ignored by the decider
    const s = await c.status(3000, old);
    expect(s.scs).toMatchObject({ active: after.scs.active, epoch: after.scs.epoch, caughtUp: true });
    expect(s.pairs[0]?.current).toBe('s1b');
    for (const e of counted) expect(['HostLost', 'TimerFired', 'ConfigApplied', 'HostReturned']).toContain(e.data['type']);
    // none of the old SCS's commands was carried out once the new claim was stored
    const carried = events.filter((e) => e.seq > newClaim && e.data['type'] === 'AppRoleChanged' && e.data['epoch'] === before.scs.epoch && e.data['command'] !== null);
    expect(carried).toEqual([]);
    const refused = events.filter((e) => e.data['type'] === 'CommandRefused');
    for (const r of refused) expect(String(r.data['reason'])).toMatch(/epoch|incarnation|running/);
  });

  it('Redis down: no SCS acts after leaseMs and failures are shown; acting resumes when Redis is back', async () => {
    await c.redis.stop();
    await c.waitStatus('active SCS stepped down', () =>
      [...c.scs.values()].some((p) => readFileSync(p.logFile, 'utf8').includes('stepping down')));
    const s0 = await c.status();
    const victim = c.app(s0, 's1');
    process.kill(victim.pid!, 'SIGKILL');
    const shown = await c.waitStatus('failure shown, no switchover', (s) => (c.app(s, 's1').status === 'stopped' && s.pairs[0]?.current === null ? s : undefined));
    expect(shown.scs.acting).toBe(false);
    expect(shown.pairs[0]?.lastFailure).toMatchObject({ app: 's1', reason: 'process-exit' });
    const events = await c.events();
    expect(events.some((e) => e.data['type'] === 'AppRoleChanged' && e.data['app'] === 's1b' && e.data['role'] === 'primary')).toBe(false);
    const sw = c.nextSwitchover('s1');
    await c.redis.restart();
    const a = await sw;
    expect(a).toMatchObject({ to: { app: 's1b' }, reason: 'process-exit' });
    expect(a.epoch).toBeGreaterThan(s0.scs.epoch);
  });
});

describe('an SCS on an empty log', () => {
  it('claims and appends its configuration before any LCA has published anything', async () => {
    let events: Awaited<ReturnType<Cluster['events']>> = [];
    const c = await Cluster.start(spec, {
      waitReady: false,
      prepare: async (c) => {
        // nothing but the SCS has written yet: the log is empty when they start
        events = await until('a claim and the configuration in the empty log', async () => {
          const ev = await c.events();
          return ev.some((e) => e.data['type'] === 'ConfigApplied') ? ev : undefined;
        });
      },
    });
    try {
      expect(events[0]?.data).toMatchObject({ type: 'ScsClaimed' });
      expect(events.every((e) => ['ScsClaimed', 'ConfigApplied'].includes(String(e.data['type'])))).toBe(true);
      // and the cluster comes up from there. Which member is primary depends on which host was heard
      // from first: the LCAs start only now, and a host silent for hostTimeoutMs after the claim is lost.
      await c.waitStatus('the pair with a primary', (s) => (s.pairs[0]?.current ? s : undefined));
    } finally {
      await stopChecked(c);
    }
  });
});

describe('a claiming SCS whose projection cannot move', () => {
  // scs-2 gets a NATS user of its own, so that its pulls on HA_EVENTS alone can be denied while
  // everything else (its claim, the lease's JetStream check) still works: the stall a lost pull makes
  const users = (denyPulls: boolean) => `
authorization {
  users = [
    { user: scs2, password: pw, permissions: { publish: { allow: ">"${denyPulls ? ', deny: ["$JS.API.CONSUMER.MSG.NEXT.HA_EVENTS.>"]' : ''} }, subscribe: { allow: ">" } } }
    { user: anyone, password: pw }
  ]
}
no_auth_user: anyone
`;

  it('gives the lease up, so that another SCS takes over; it catches up once it can read again', async () => {
    const c = await Cluster.start({ ...spec, scs: 1, nats: { extra: users(false) } });
    try {
      const scs2Url = c.nats.url.replace('nats://', 'nats://scs2:pw@');
      const stalled = c.startScs('scs-2', undefined, scs2Url);
      await until('scs-2 caught up', () => readFileSync(stalled.logFile, 'utf8').includes('projection caught up'));
      await c.nats.reload(users(true));
      // the pull under way still delivers until it expires (2 s): wait for the first one denied
      await until('a pull of scs-2 denied', () => /violation/i.test(readFileSync(c.nats.logFile, 'utf8')), 15_000);
      c.scs.get('scs-1')!.signal('SIGKILL');
      await until('scs-2 claims', () => readFileSync(stalled.logFile, 'utf8').includes('lease won; claim stored'), 15_000);
      await until('scs-2 gives the lease up', () => readFileSync(stalled.logFile, 'utf8').includes('giving the lease up'), 15_000);
      c.startScs('scs-3');
      const s = await c.waitStatus('scs-3 active', (st) => (st.scs.active === 'scs-3' && st.scs.acting && st.scs.caughtUp ? st : undefined), 20_000);
      const sw = c.nextSwitchover('s1');
      process.kill(c.app(s, s.pairs[0]!.current!).pid!, 'SIGKILL');
      expect((await sw).epoch).toBe(s.scs.epoch);
      // scs-2 had made no claim since: its one claim came before scs-3's
      const claims = (await c.events()).filter((e) => e.data['type'] === 'ScsClaimed' && e.data['scs'] === 'scs-2');
      expect(claims).toHaveLength(1);
      expect(claims[0]!.seq).toBeLessThan(s.scs.epoch);
      await c.nats.reload(users(false));
      await until('scs-2 caught up again', async () => (await c.status(3000, 'scs-2')).scs.caughtUp === true, 20_000);
    } finally {
      await stopChecked(c);
    }
  });
});
