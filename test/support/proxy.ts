import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/** A TCP proxy the test controls: `cut()` drops every connection and refuses new ones until `restore()`. */
export class TcpProxy {
  readonly #sockets = new Set<Socket>();
  #cut = false;
  #server: Server | undefined;

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const p = new TcpProxy(await freePort(), targetPort, targetHost);
    p.#server = createServer((client) => p.#accept(client));
    await new Promise<void>((resolve) => p.#server?.listen(p.port, '127.0.0.1', resolve));
    return p;
  }

  #accept(client: Socket): void {
    if (this.#cut) {
      client.destroy();
      return;
    }
    const upstream = connect(this.targetPort, this.targetHost);
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Drops every proxied connection now and refuses new ones. */
  cut(): void {
    this.#cut = true;
    for (const s of this.#sockets) s.destroy();
  }
  restore(): void {
    this.#cut = false;
  }
  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
