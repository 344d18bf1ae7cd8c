import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createConnection } from 'node:net';
import { freePort, until } from './ports.js';
import { spawnLogged, type Proc } from './processes.js';
import { evidenceWanted, failuresSoFar, saveEvidence } from './evidence.js';

export type NatsServerOptions = {
  /**
   * `max_payload` in bytes (the server's default is 1 MB). The benchmarks raise it: a
   * `ConfigApplied` carries the whole configuration, about 190 bytes per application once
   * validated (1.9 MB at 10,000 applications). Written to a config file, as nats-server has no flag for it.
   */
  maxPayload?: number;
  /** More of the server's configuration file (authorization, for instance); `reload` replaces it. */
  extra?: string;
};

const greets = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.setTimeout(500, () => { s.destroy(); resolve(false); });
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('INFO ')); });
    s.on('error', () => resolve(false));
  });

/** A throw-away `nats-server -js` on a free loopback port with its own store; restartable on the same port. */
export class NatsServer {
  #proc: Proc | undefined;
  /** Tests failed before this server started: a later failure has its streams saved at `stop`. */
  readonly #failuresAtStart = failuresSoFar();
  /** Connection options (an admin identity) to read the streams for evidence, when the server has identities. */
  evidenceAuth: Record<string, unknown> = {};
  private constructor(
    readonly port: number,
    readonly storeDir: string,
    readonly logFile: string,
    readonly configFile: string | null = null,
    private opts: NatsServerOptions = {},
  ) {}

  #writeConfig(): void {
    if (this.configFile === null) return;
    // JetStream and its store in the file (not by flags): a reload compares them with the file's
    const lines = [`jetstream { store_dir: ${JSON.stringify(this.storeDir)} }`, this.opts.maxPayload !== undefined ? `max_payload: ${this.opts.maxPayload}` : '', this.opts.extra ?? ''];
    writeFileSync(this.configFile, lines.filter(Boolean).join('\n') + '\n');
  }

  /** Replaces the `extra` configuration and has the running server reload it (SIGHUP). */
  async reload(extra: string): Promise<void> {
    if (this.configFile === null) throw new Error('reload needs a server started with a configuration file (opts.extra)');
    this.opts = { ...this.opts, extra };
    this.#writeConfig();
    const proc = this.#proc;
    if (!proc) throw new Error('nats-server is not running');
    const before = readFileSync(this.logFile, 'utf8').split('Reloaded server configuration').length;
    proc.signal('SIGHUP');
    await until('nats-server reloaded its configuration', () => readFileSync(this.logFile, 'utf8').split('Reloaded server configuration').length > before, 10_000, 20);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  get proc(): Proc | undefined {
    return this.#proc;
  }

  static async start(dir?: string, opts: NatsServerOptions = {}): Promise<NatsServer> {
    const base = dir ?? mkdtempSync(join(tmpdir(), 'ha-nats-'));
    let configFile: string | null = null;
    if (opts.maxPayload !== undefined || opts.extra !== undefined) configFile = join(base, 'nats-server.conf');
    const s = new NatsServer(await freePort(), join(base, 'jetstream'), join(base, 'nats-server.log'), configFile, opts);
    s.#writeConfig();
    await s.restart();
    return s;
  }

  /** Starts the server again (after `stop`), same port and store. */
  async restart(): Promise<void> {
    const conf = this.configFile ? ['-c', this.configFile] : ['-js', '-sd', this.storeDir];
    this.#proc = spawnLogged('nats-server', 'nats-server', [...conf, '-a', '127.0.0.1', '-p', String(this.port)], this.logFile);
    const proc = this.#proc;
    // up once it greets a client with INFO: a server with identities or TLS refuses a plain anonymous client
    await until(`nats-server on ${this.port}`, async () => {
      if (!proc.running) throw new Error(`nats-server exited; see ${this.logFile}`);
      return greets(this.port);
    }, 15_000, 50);
  }

  /** The directory of this server's files (and of the test's process logs, for the harness's servers). */
  get dir(): string {
    return dirname(this.logFile);
  }

  /** Stops the server; if a test failed meanwhile, first saves its streams as evidence (evidence.ts). */
  async stop(): Promise<void> {
    if (this.#proc?.running && evidenceWanted(this.#failuresAtStart)) await saveEvidence(this.url, this.dir, this.evidenceAuth);
    await this.#proc?.stop('SIGTERM');
  }
}
