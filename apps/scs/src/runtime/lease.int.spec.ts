import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { BIN, RedisServer, until } from '@ha/test';
import { RedisLease } from './lease.js';

// The lease under the Redis ACL that `hactl secure init` writes: the scs user can do everything the
// lease does, and nothing else; the default user is off.
describe('the SCS lease under the generated Redis ACL', () => {
  let redis: RedisServer;
  let dir: string;
  let pw: Record<string, string>;
  const clients: Redis[] = [];
  const client = (user: string, password: string): Redis => {
    const r = new Redis(redis.url.replace('redis://', `redis://${user}:${encodeURIComponent(password)}@`), { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    clients.push(r);
    return r;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ha-redis-acl-'));
    const cfg = join(dir, 'cluster.json');
    writeFileSync(cfg, JSON.stringify({ cluster: 'acl', hosts: [{ id: 'h1' }], applications: [{ id: 'x', host: 'h1', command: ['sleep', '1'], endpoint: '127.0.0.1:1' }] }));
    execFileSync(process.execPath, [BIN.hactl, 'secure', 'init', '--config', cfg, '--out', join(dir, 'ids')], { stdio: 'ignore' });
    pw = Object.fromEntries(readFileSync(join(dir, 'ids', 'redis-passwords'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' ') as [string, string]));
    redis = await RedisServer.start(dir, ['--aclfile', join(dir, 'ids', 'redis-users.acl')]);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });

  it('lets the scs user acquire, renew and release the lease', async () => {
    const url = redis.url.replace('redis://', `redis://scs:${encodeURIComponent(pw['scs'] ?? '')}@`);
    const errors: string[] = [];
    const a = new RedisLease(url, 'ha:acl:scs:leader', 'scs-1', 2000, (m) => errors.push(m));
    const b = new RedisLease(url, 'ha:acl:scs:leader', 'scs-2', 2000, (m) => errors.push(m));
    try {
      // the lease fails fast until its connection is ready (no offline queue)
      expect(await until('scs-1 connected', async () => ({ won: await a.tryAcquire(5000) }))).toEqual({ won: true });
      expect(await until('scs-2 connected', async () => ({ won: await b.tryAcquire(5000) }))).toEqual({ won: false });
      expect(await a.renew(5000)).toBe(true);
      expect(await b.renew(5000)).toBe(false);
      await a.release();
      expect(await b.tryAcquire(5000)).toBe(true);
      await b.release();
      expect(errors).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses the scs user any other key or command, and the default user altogether', async () => {
    const scs = client('scs', pw['scs'] ?? '');
    await scs.connect();
    await expect(scs.set('ha:acl:other', 'x')).rejects.toThrow(/NOPERM/);
    await expect(scs.flushall()).rejects.toThrow(/NOPERM/);
    await expect(scs.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(scs.eval(`return redis.call('SET', 'ha:acl:other', 'x')`, 0)).rejects.toThrow(/NOPERM|can't access/i);
    const anon = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, enableReadyCheck: false });
    clients.push(anon);
    await anon.connect().catch(() => undefined);
    await expect(anon.get('ha:acl:scs:leader')).rejects.toThrow(/NOAUTH|WRONGPASS|closed/i);
    const admin = client('admin', pw['admin'] ?? '');
    await admin.connect();
    expect(await admin.get('ha:acl:other')).toBeNull();
  });
});
