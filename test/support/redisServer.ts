import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { freePort, until } from './ports.js';
import { spawnLogged, type Proc } from './processes.js';

const ping = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => s.write('PING\r\n'));
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
    // -NOAUTH: a server with an ACL file whose default user is off is up all the same
    s.on('data', (d) => { s.destroy(); resolve(/^(\+PONG|-NOAUTH)/.test(d.toString())); });
    s.on('error', () => resolve(false));
  });

/** A throw-away `redis-server` on a free loopback port that keeps nothing on disk; restartable. */
export class RedisServer {
  #proc: Proc | undefined;
  private constructor(readonly port: number, readonly dir: string, readonly args: readonly string[] = []) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** `args`: more of redis-server's options (`--aclfile <path>`, for instance). */
  static async start(dir?: string, args: readonly string[] = []): Promise<RedisServer> {
    const s = new RedisServer(await freePort(), dir ?? mkdtempSync(join(tmpdir(), 'ha-redis-')), args);
    await s.restart();
    return s;
  }

  async restart(): Promise<void> {
    this.#proc = spawnLogged('redis-server', 'redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.args], join(this.dir, 'redis-server.log'));
    const proc = this.#proc;
    await until(`redis-server on ${this.port}`, async () => {
      if (!proc.running) throw new Error('redis-server exited');
      return ping(this.port);
    }, 15_000, 50);
  }

  async stop(): Promise<void> {
    await this.#proc?.stop('SIGTERM');
  }
}
