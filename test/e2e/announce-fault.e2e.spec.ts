import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { AnnouncementSchema, SWITCHOVERS_STREAM, subjects, type Announcement } from '@ha/events';
import { Cluster, until } from '@ha/test';

// The red-team fault: nats-server killed right after a primary crashed (here: as its backup
// confirms the promotion, when the SCS announces). The real announcement was
// never published, and spurious `app1 -> app1 (manual)` ones were.
describe('nats-server killed right after a primary crash', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start({
      hosts: ['host-a', 'host-b'],
      pairs: [{ primary: 'app1', backup: 'app1b', primaryHost: 'host-a', backupHost: 'host-b' }],
    });
  });
  afterAll(async () => c?.stop());

  it('the switchover is announced once the bus is back, and no announcement names one member on both sides', async () => {
    const victim = c.app(await c.status(), 'app1');
    // the backup's LCA confirming the promotion (seen on the raw subject, stored or not) is the moment
    // the SCS announces: the moment to kill
    const exitSeen = new Promise<void>((resolve) => {
      const sub = c.nc.subscribe(subjects.hostEvent('host-b', 'role'), {
        callback: (_e, m) => {
          const e = m.json<{ type?: string; app?: string; role?: string }>();
          if (e.type === 'AppRoleChanged' && e.app === 'app1b' && e.role === 'primary') {
            c.nats.proc?.signal('SIGKILL');
            sub.unsubscribe();
            resolve();
          }
        },
      });
    });
    await c.nc.flush();
    process.kill(victim.pid!, 'SIGKILL');
    await exitSeen;
    await c.nats.restart();
    const announced = await until('an announcement for app1 stored', async () => {
      const jsm = await jetstream(c.nc).jetstreamManager();
      const info = await jsm.streams.info(SWITCHOVERS_STREAM);
      const out: Announcement[] = [];
      for (let seq = 1; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(SWITCHOVERS_STREAM, { seq }).catch(() => null);
        if (m?.subject === subjects.switchoverStored('app1')) out.push(AnnouncementSchema.parse(m.json()));
      }
      return out.some((a) => a.reason === 'process-exit') ? out : undefined;
    }, 45_000);
    expect(announced.filter((a) => a.reason === 'process-exit')).toEqual([expect.objectContaining({ pair: 'app1', from: { app: 'app1', host: 'host-a' }, to: expect.objectContaining({ app: 'app1b', host: 'host-b' }) })]);
    expect(announced.filter((a) => a.from.app === a.to.app)).toEqual([]);
    const s = await c.waitStatus('app1b primary, app1 back as backup', (st) => (st.pairs[0]?.current === 'app1b' && c.app(st, 'app1').status === 'started' ? st : undefined), 30_000);
    expect(c.app(s, 'app1').role).toBe('backup');
  });
});
