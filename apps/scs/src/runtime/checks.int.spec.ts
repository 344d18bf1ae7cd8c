import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createLogger, ensureStreams } from '@ha/bus';
import { codec, StatusDocSchema, subjects, validateConfig, type ClusterConfig } from '@ha/events';
import { NatsServer, RedisServer, until } from '@ha/test';
import { RedisLease } from './lease.js';
import { ControlServer } from './server.js';

// What the SCS checks itself (docs/security.md), against real servers.
const log = createLogger('checks-test');
log.level = 'silent';

const manyHosts = (n: number): ClusterConfig => {
  const r = validateConfig({
    cluster: 'many',
    timing: { leaseMs: 1000, scsTimeoutMs: 500 },
    hosts: Array.from({ length: n }, (_, i) => ({ id: `host-${i}` })),
    applications: Array.from({ length: n }, (_, i) => ({ id: `app-${i}`, host: `host-${i}`, command: ['sleep', 'infinity'] })),
  });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

describe('status larger than the bus allows', () => {
  const MAX = 96 * 1024;
  let nats: NatsServer;
  let redis: RedisServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await NatsServer.start(undefined, { maxPayload: MAX });
    redis = await RedisServer.start();
    nc = await connect({ servers: nats.url });
    await ensureStreams(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    await redis?.stop();
  });

  it('is still answered on ha.api.status: in part, with a note', async () => {
    const cfg = manyHosts(450);
    expect(codec.encode({ type: 'ConfigApplied', v: 1, epoch: 1, scs: 'scs-1', config: cfg }).length).toBeLessThan(MAX);
    const conn = await connect({ servers: nats.url });
    const s = new ControlServer({ id: 'scs-1', nc: conn, config: cfg, http: null, log, lease: (cluster) => new RedisLease(redis.url, `ha:${cluster}:scs:leader`, 'scs-1', 1000, () => undefined) });
    await s.start();
    try {
      await until('active with its configuration in force', () => (s.role === 'active' && s.state.config?.cluster === 'many' && s.caughtUp ? true : undefined), 20_000);
      const reply = await nc.request(subjects.status, codec.encode({}), { timeout: 5000 });
      expect(reply.data.length).toBeLessThanOrEqual(MAX);
      const json = codec.decodeJson(reply.data);
      const doc = StatusDocSchema.parse(json.ok ? json.value : null);
      expect(doc.truncated?.hosts.total).toBe(450);
      expect(doc.hosts.length).toBeGreaterThan(0);
      expect(doc.truncated?.note).toMatch(/max_payload/);
      expect(doc.scs.active).toBe('scs-1');
    } finally {
      await s.stop();
      await conn.close();
    }
  });
});

describe('heartbeats of hosts the configuration does not name', () => {
  let nats: NatsServer;
  let redis: RedisServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await NatsServer.start();
    redis = await RedisServer.start();
    nc = await connect({ servers: nats.url });
    await ensureStreams(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    await redis?.stop();
  });

  it('are not watched: counted, and status shows configured hosts only', async () => {
    const conn = await connect({ servers: nats.url });
    const s = new ControlServer({ id: 'scs-1', nc: conn, config: manyHosts(2), http: null, log, lease: (cluster) => new RedisLease(redis.url, `ha:${cluster}:scs:leader`, 'scs-1', 1000, () => undefined) });
    await s.start();
    try {
      await until('the configuration in force', () => (s.state.config?.cluster === 'many' && s.caughtUp ? true : undefined), 20_000);
      const js = jetstream(nc);
      for (let i = 0; i < 50; i++) await js.publish(subjects.heartbeat(`ghost-${i}`), codec.encode({ type: 'Heartbeat', v: 1, host: `ghost-${i}`, lca: 1, n: 1, pid: 1, apps: [] }));
      await js.publish(subjects.heartbeat('host-0'), codec.encode({ type: 'Heartbeat', v: 1, host: 'host-0', lca: 1, n: 1, pid: 1, apps: [] }));
      const doc = await until('host-0\'s heartbeat seen (after the ghosts\')', async () => {
        const json = codec.decodeJson((await nc.request(subjects.status, codec.encode({}), { timeout: 5000 })).data);
        const d = StatusDocSchema.parse(json.ok ? json.value : null);
        return d.hosts.find((h) => h.id === 'host-0')?.lastHeartbeatAt ? d : undefined;
      }, 20_000);
      expect(doc.hosts.map((h) => h.id)).toEqual(['host-0', 'host-1']);
      expect(s.unknownHeartbeats).toBe(50);
    } finally {
      await s.stop();
      await conn.close();
    }
  });
});

describe('a lease key no SCS could have written', () => {
  let nats: NatsServer;
  let redis: RedisServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await NatsServer.start();
    redis = await RedisServer.start();
    nc = await connect({ servers: nats.url });
    await ensureStreams(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    await redis?.stop();
  });

  it('is reported (one line, not one per tick; in status) while it stays, and the SCS leads once it is gone', async () => {
    const cfg = manyHosts(2);
    const key = 'ha:many:scs:leader';
    const r = new Redis(redis.url);
    await r.set(key, 'x'); // no PX: it never expires
    const lines: string[] = [];
    const captured = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const conn = await connect({ servers: nats.url });
    const s = new ControlServer({ id: 'scs-1', nc: conn, config: cfg, http: null, log: captured, lease: (cluster) => new RedisLease(redis.url, `ha:${cluster}:scs:leader`, 'scs-1', 1000, () => undefined) });
    await s.start();
    try {
      const problem = await until('the lease key reported in status', async () => {
        const json = codec.decodeJson((await nc.request(subjects.status, codec.encode({}), { timeout: 5000 })).data);
        return StatusDocSchema.parse(json.ok ? json.value : null).scs.problems?.[0];
      }, 20_000);
      expect(problem).toMatch(/lease key ha:many:scs:leader \(held by "x"\) has no expiry: no SCS can become active until it is deleted/);
      expect(s.role).toBe('standby');
      // several checks later (one per leaseMs), still one line
      const checks = (await r.info('commandstats')).match(/cmdstat_pttl:calls=(\d+)/)?.[1];
      await until('three more checks of the key', async () => (Number((await r.info('commandstats')).match(/cmdstat_pttl:calls=(\d+)/)?.[1] ?? 0) >= Number(checks ?? 0) + 3 ? true : undefined), 20_000);
      expect(lines.filter((l) => l.includes('has no expiry'))).toHaveLength(1);
      expect(s.role).toBe('standby');
      await r.del(key);
      await until('active once the key is gone', () => (s.role === 'active' ? true : undefined), 20_000);
      expect(s.problems).toEqual([]);
      expect(lines.some((l) => l.includes('lease key problem gone'))).toBe(true);
    } finally {
      await s.stop();
      await conn.close();
      r.disconnect();
    }
  });
});
