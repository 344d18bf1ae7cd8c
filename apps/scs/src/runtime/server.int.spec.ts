import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { createLogger, ensureStreams } from '@ha/bus';
import { codec, EVENTS_STREAM, subjects, validateConfig, type ClusterConfig, type StatusDoc } from '@ha/events';
import { NatsServer, RedisServer, until } from '@ha/test';
import { RedisLease } from './lease.js';
import { ControlServer } from './server.js';

const log = createLogger('server-test');
log.level = 'silent';

const config = (port: number): ClusterConfig => {
  const r = validateConfig({
    cluster: 'offer',
    timing: { leaseMs: 1000, scsTimeoutMs: 500 },
    hosts: [{ id: 'h1' }, { id: 'h2' }],
    applications: [
      { id: 'a', host: 'h1', command: ['sleep', 'infinity'], endpoint: `127.0.0.1:${port}`, env: { X: 'é' }, redundancy: { backup: 'b' } },
      { id: 'b', host: 'h2', command: ['sleep', 'infinity'], probe: { kind: 'tcp', address: '127.0.0.1:9' } },
    ],
  });
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
};

describe('the SCS offers its file\'s configuration to the log', () => {
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

  const configsInLog = async (): Promise<unknown[]> => {
    const jsm = await jetstream(nc).jetstreamManager();
    const out: unknown[] = [];
    const last = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
    for (let seq = 1; seq <= last; seq++) {
      const m = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
      if (m?.subject === subjects.config) out.push(m.json());
    }
    return out;
  };

  /** Runs one SCS with `cfg` until it is active and caught up with its own offer, then stops it. */
  const lead = async (id: string, cfg: ClusterConfig, offers: number): Promise<void> => {
    const conn = await connect({ servers: nats.url });
    const s = new ControlServer({ id, nc: conn, config: cfg, http: null, log, lease: (cluster) => new RedisLease(redis.url, `ha:${cluster}:scs:leader`, id, 500, () => undefined) });
    await s.start();
    try {
      await until(`${id} active with its configuration in force`, async () => (s.role === 'active' && (await configsInLog()).length === offers && s.state.config?.cluster === cfg.cluster ? true : undefined), 20_000);
      await new Promise((r) => setTimeout(r, 300)); // nothing more is appended
      expect(await configsInLog()).toHaveLength(offers);
    } finally {
      await s.stop();
      await conn.close();
    }
  };

  it('appends it only when it differs from the log\'s, byte for byte as codec.encode makes it; the state keeps a policy of it', async () => {
    await lead('scs-1', config(7001), 1);
    await lead('scs-2', config(7001), 1); // the same file: nothing appended
    await lead('scs-3', config(7002), 2); // another endpoint: appended
    await lead('scs-4', config(7001), 3); // the first again: it differs from the one in force
    const offered = (await configsInLog()) as { epoch: number; scs: string; config: unknown }[];
    expect(offered.map((o) => o.config)).toEqual([config(7001), config(7002), config(7001)]);
    const jsm = await jetstream(nc).jetstreamManager();
    const last = await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: subjects.config });
    const o = offered[2]!;
    expect(Buffer.from(last!.data).equals(Buffer.from(codec.encode({ type: 'ConfigApplied', v: 1, epoch: o.epoch, scs: o.scs, config: config(7001) })))).toBe(true);
  });

  it('reads the heartbeat feed on a connection of its own, when given one', async () => {
    const conn = await connect({ servers: nats.url });
    const feed = await connect({ servers: nats.url });
    const s = new ControlServer({ id: 'scs-6', nc: conn, feedNc: feed, config: null, http: null, log, lease: () => new RedisLease(redis.url, 'unused', 'scs-6', 500, () => undefined) });
    await s.start();
    try {
      await jetstream(nc).publish(subjects.heartbeat('h1'), codec.encode({ type: 'Heartbeat', v: 1, host: 'h1', lca: 1, n: 1, pid: 1, apps: [] }));
      await until('the heartbeat seen', async () => {
        const d = (await nc.request(subjects.status, undefined, { timeout: 1000 })).json<StatusDoc>();
        return d.hosts.find((h) => h.id === 'h1')?.lastHeartbeatAt ? d : undefined;
      }, 20_000);
      const before = feed.stats().inMsgs;
      expect(before).toBeGreaterThan(0);
      await jetstream(nc).publish(subjects.heartbeat('h2'), codec.encode({ type: 'Heartbeat', v: 1, host: 'h2', lca: 1, n: 1, pid: 1, apps: [] }));
      await until('the second heartbeat read on the feed connection', () => (feed.stats().inMsgs > before ? true : undefined), 20_000);
    } finally {
      await s.stop();
      await conn.close();
      await feed.close();
    }
  });

  it('keeps of the configuration in force only what decisions and status read', async () => {
    const conn = await connect({ servers: nats.url });
    const s = new ControlServer({ id: 'scs-5', nc: conn, config: null, http: null, log, lease: () => new RedisLease(redis.url, 'unused', 'scs-5', 500, () => undefined) });
    await s.start();
    try {
      await until('the projection caught up', async () => (s.caughtUp && s.state.config ? true : undefined), 20_000);
      expect(s.state.config).toEqual({
        cluster: 'offer',
        timing: config(7001).timing,
        restart: config(7001).restart,
        hosts: [{ id: 'h1' }, { id: 'h2' }],
        applications: [
          { id: 'a', endpoint: '127.0.0.1:7001' },
          { id: 'b', endpoint: null },
        ],
      });
    } finally {
      await s.stop();
      await conn.close();
    }
  });
});
