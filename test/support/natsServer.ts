import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { freePort, until } from './ports.js';
import { spawnLogged, type Proc } from './processes.js';

export type NatsServerOptions = {
  /**
   * `max_payload` in bytes (the server's default is 1 MB). The benchmarks raise it: a
   * `ConfigApplied` carries the whole configuration, about 190 bytes per application once
   * validated (1.9 MB at 10,000 applications). Written to a config file, as nats-server has no flag for it.
   */
  maxPayload?: number;
};

/** A throw-away `nats-server -js` on a free loopback port with its own store; restartable on the same port. */
export class NatsServer {
  #proc: Proc | undefined;
  private constructor(
    readonly port: number,
    readonly storeDir: string,
    readonly logFile: string,
    readonly configFile: string | null = null,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  get proc(): Proc | undefined {
    return this.#proc;
  }

  static async start(dir?: string, opts: NatsServerOptions = {}): Promise<NatsServer> {
    const base = dir ?? mkdtempSync(join(tmpdir(), 'ha-nats-'));
    let configFile: string | null = null;
    if (opts.maxPayload !== undefined) {
      configFile = join(base, 'nats-server.conf');
      writeFileSync(configFile, `max_payload: ${opts.maxPayload}\n`);
    }
    const s = new NatsServer(await freePort(), join(base, 'jetstream'), join(base, 'nats-server.log'), configFile);
    await s.restart();
    return s;
  }

  /** Starts the server again (after `stop`), same port and store. */
  async restart(): Promise<void> {
    const conf = this.configFile ? ['-c', this.configFile] : [];
    this.#proc = spawnLogged('nats-server', 'nats-server', [...conf, '-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], this.logFile);
    const proc = this.#proc;
    await until(`nats-server on ${this.port}`, async () => {
      if (!proc.running) throw new Error(`nats-server exited; see ${this.logFile}`);
      const nc = await connect({ servers: this.url, timeout: 500 });
      await nc.close();
      return true;
    }, 15_000, 50);
  }

  async stop(): Promise<void> {
    await this.#proc?.stop('SIGTERM');
  }
}
