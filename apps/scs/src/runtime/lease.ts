import { Redis } from 'ioredis';

/** The liveness lease behind a tiny interface (DESIGN section 3). */
export interface Lease {
  /** The Redis key (`ha:<cluster>:scs:leader`). */
  readonly key: string;
  /** `SET key id NX PX ms`: true when won. */
  tryAcquire(ms: number): Promise<boolean>;
  /** Compare-and-extend: true only while `id` still owns the key. */
  renew(ms: number): Promise<boolean>;
  /** Compare-and-delete. */
  release(): Promise<void>;
  /** Who holds the key and for how long (`PTTL`: -1 when it never expires, -2 when there is no key). */
  inspect(): Promise<{ holder: string | null; pttlMs: number }>;
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
  async inspect(): Promise<{ holder: string | null; pttlMs: number }> {
    const r = await this.#redis.multi().get(this.key).pttl(this.key).exec();
    const [get, pttl] = r ?? [];
    return { holder: typeof get?.[1] === 'string' ? get[1] : null, pttlMs: typeof pttl?.[1] === 'number' ? pttl[1] : -2 };
  }
  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}
