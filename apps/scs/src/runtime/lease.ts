import { Redis } from 'ioredis';

/** The liveness lease behind a tiny interface (DESIGN section 3). */
export interface Lease {
  /** `SET key id NX PX ms`: true when won. */
  tryAcquire(ms: number): Promise<boolean>;
  /** Compare-and-extend: true only while `id` still owns the key. */
  renew(ms: number): Promise<boolean>;
  /** Compare-and-delete. */
  release(): Promise<void>;
  close(): Promise<void>;
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** Redis lease; commands fail fast when Redis is unreachable (no offline queue). */
export class RedisLease implements Lease {
  readonly #redis: Redis;
  #warned = false;
  constructor(
    url: string,
    readonly key: string,
    readonly id: string,
    timeoutMs: number,
    onError: (msg: string) => void,
  ) {
    this.#redis = new Redis(url, {
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: timeoutMs,
      retryStrategy: () => 250,
    });
    this.#redis.on('error', (e: Error) => {
      if (!this.#warned) onError(`redis: ${e.message}`);
      this.#warned = true;
    });
    this.#redis.on('ready', () => {
      this.#warned = false;
    });
  }
  async tryAcquire(ms: number): Promise<boolean> {
    return (await this.#redis.set(this.key, this.id, 'PX', ms, 'NX')) === 'OK';
  }
  async renew(ms: number): Promise<boolean> {
    return Number(await this.#redis.eval(RENEW, 1, this.key, this.id, String(ms))) === 1;
  }
  async release(): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.key, this.id);
  }
  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
