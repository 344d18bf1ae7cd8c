import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
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
