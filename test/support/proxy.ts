import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

/**
 * A TCP proxy the test controls: `cut()` drops every connection and refuses new ones until
 * `restore()`; `holdReplies()` keeps what the server sends until `releaseReplies()`; `onClientData`
 * sees what clients send, as it passes (to act at an exact point of a client's traffic).
 */
export class TcpProxy {
  readonly #sockets = new Set<Socket>();
  readonly #upstreams = new Map<Socket, Socket>();
  #cut = false;
  #held = false;
  /** Called with every chunk a client sends, before it is forwarded. */
  onClientData: ((chunk: Buffer) => void) | undefined;
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
    client.on('data', (chunk: Buffer) => this.onClientData?.(chunk));
    client.pipe(upstream);
    if (this.#held) upstream.pause();
    else upstream.pipe(client);
    this.#upstreams.set(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      this.#upstreams.delete(upstream);
      client.destroy();
    });
  }

  /** From now on, what the server sends waits in the proxy (acks and replies stay in flight). */
  holdReplies(): void {
    this.#held = true;
    for (const [upstream, client] of this.#upstreams) {
      upstream.unpipe(client);
      upstream.pause();
    }
  }

  /** Forwards what was held, and everything after it. */
  releaseReplies(): void {
    this.#held = false;
    for (const [upstream, client] of this.#upstreams) upstream.pipe(client);
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
