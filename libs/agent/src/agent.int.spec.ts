/**
 * The SDK against a fake LCA on a real Unix socket: the test plays the LCA's side of the protocol.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppToLcaSchema, type AppToLca, type LcaToApp, type RoleAnswer } from '@ha/events';
import { NotManagedError, connectAgent, type Agent } from './agent.js';

type Waiter = { pred: (m: AppToLca) => boolean; resolve: (m: AppToLca) => void };

/** The LCA side: accepts one application, records what it says, sends what the test wants. */
class FakeLca {
  readonly got: AppToLca[] = [];
  readonly bad: string[] = [];
  connections = 0;
  #socket: Socket | null = null;
  #waiters: Waiter[] = [];
  #closed!: () => void;
  readonly closed = new Promise<void>((r) => (this.#closed = r));
  private constructor(
    readonly path: string,
    readonly server: Server,
  ) {}

  static async start(path: string): Promise<FakeLca> {
    const ref: { lca?: FakeLca } = {};
    const server = createServer((s) => {
      if (ref.lca) ref.lca.#accept(s);
    });
    const lca = (ref.lca = new FakeLca(path, server));
    await new Promise<void>((r) => server.listen(path, r));
    return lca;
  }

  #accept(s: Socket): void {
    this.connections++;
    this.#socket = s;
    s.setEncoding('utf8');
    let buf = '';
    s.on('data', (c: string) => {
      buf += c;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const r = AppToLcaSchema.safeParse(JSON.parse(line));
        if (!r.success) {
          this.bad.push(line);
          continue;
        }
        this.got.push(r.data);
        for (const w of this.#waiters.filter((x) => x.pred(r.data))) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(r.data);
        }
      }
    });
    s.on('close', () => this.#closed());
  }

  send(msg: LcaToApp | string): void {
    this.#socket?.write(typeof msg === 'string' ? `${msg}\n` : `${JSON.stringify(msg)}\n`);
  }

  /** The first message (already received or to come) after index `from` that matches. */
  next<T extends AppToLca['type']>(type: T, pred: (m: Extract<AppToLca, { type: T }>) => boolean = () => true, from = 0, timeoutMs = 5000): Promise<Extract<AppToLca, { type: T }>> {
    const match = (m: AppToLca): m is Extract<AppToLca, { type: T }> => m.type === type && pred(m as Extract<AppToLca, { type: T }>);
    const seen = this.got.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${type} from the application within ${timeoutMs} ms; got ${JSON.stringify(this.got)}`)), timeoutMs);
      this.#waiters.push({
        pred: match,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m as Extract<AppToLca, { type: T }>);
        },
      });
    });
  }

  dropConnection(): void {
    this.#socket?.destroy();
  }

  async close(): Promise<void> {
    this.#socket?.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const welcome = (app = 'app-1'): LcaToApp => ({ type: 'welcome', v: 1, app, incarnation: 42, role: 'backup' });

/** A peer answering `GET /ha/role` with whatever `answer` holds (or never, when it is 'hang'). */
const peerServer = async (answer: () => RoleAnswer | 'hang' | 'garbage'): Promise<{ server: HttpServer; endpoint: string; asked: () => number }> => {
  let asked = 0;
  const server = createHttpServer((req, res) => {
    asked++;
    const a = answer();
    if (a === 'hang') return;
    if (a === 'garbage') {
      res.writeHead(200).end('<html>');
      return;
    }
    expect(req.url).toBe('/ha/role');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(a));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`, asked: () => asked };
};

const closedPort = async (): Promise<string> => {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
};

const quiet = { info: () => undefined, warn: () => undefined };

describe('@ha/agent against a fake LCA on a Unix socket', () => {
  let dir: string;
  let lca: FakeLca;
  let agent: Agent | undefined;
  const servers: HttpServer[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ha-agent-test-'));
    lca = await FakeLca.start(join(dir, 'app.sock'));
  });
  afterEach(async () => {
    agent?.close();
    agent = undefined;
    await lca.close();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Connects with the LCA answering the hello with a welcome. */
  const connect = async (opts: Parameters<typeof connectAgent>[0] = {}): Promise<Agent> => {
    const connecting = connectAgent({ socketPath: lca.path, app: 'app-1', log: quiet, ...opts });
    await lca.next('hello');
    lca.send(welcome());
    agent = await connecting;
    return agent;
  };

  /** Promotes with a lease of `ttlMs` ahead of the role, as the LCA does; resolves with the answer. */
  const promote = async (a: Agent, o: { ttlMs?: number | null; epoch?: number; peer?: string | null; peerCheck?: boolean; command?: string } = {}) => {
    const from = lca.got.length;
    const command = o.command ?? `cmd:${from}`;
    const epoch = o.epoch ?? 5;
    if (o.ttlMs !== undefined) lca.send({ type: 'lease', ttlMs: o.ttlMs, epoch });
    lca.send({ type: 'role', role: 'primary', epoch, command, peer: o.peer ?? null, peerCheck: o.peerCheck ?? false });
    return Promise.race([
      lca.next('role-confirmed', (m) => m.command === command, from),
      lca.next('role-refused', (m) => m.command === command, from),
    ]);
  };

  it('says hello with HA_APP_ID and its pid, is welcomed, and answers every ping at once', async () => {
    const connecting = connectAgent({ socketPath: lca.path, app: 'app-1', log: quiet });
    const hello = await lca.next('hello');
    expect(hello).toEqual({ type: 'hello', v: 1, app: 'app-1', pid: process.pid });
    lca.send(welcome());
    const a = (agent = await connecting);
    expect(a.incarnation).toBe(42);
    expect(a.role).toBe('backup');
    // garbage from the LCA is skipped, the link keeps working
    lca.send('{not json');
    lca.send(JSON.stringify({ type: 'explode' }));
    for (const id of [1, 2, 3]) lca.send({ type: 'ping', id });
    for (const id of [1, 2, 3]) await lca.next('pong', (m) => m.id === id);
    expect(a.pingsAnswered).toBe(3);
    expect(lca.bad).toEqual([]);
  });

  it('retries the first connection until the LCA listens', async () => {
    await lca.close();
    const path = join(dir, 'late.sock');
    const connecting = connectAgent({ socketPath: path, app: 'app-1', log: quiet, connectTimeoutMs: 5000 });
    lca = await FakeLca.start(path);
    await lca.next('hello');
    lca.send(welcome());
    agent = await connecting;
    expect(agent.connected).toBe(true);
  });

  it('refuses to run without HA_LCA_SOCKET', async () => {
    const saved = process.env['HA_LCA_SOCKET'];
    delete process.env['HA_LCA_SOCKET'];
    try {
      await expect(connectAgent({ log: quiet })).rejects.toBeInstanceOf(NotManagedError);
    } finally {
      if (saved !== undefined) process.env['HA_LCA_SOCKET'] = saved;
    }
  });

  it('reports started and service-unavailable', async () => {
    const a = await connect();
    a.started();
    a.serviceUnavailable('database down');
    a.started();
    await lca.next('status', (m) => m.status === 'service-unavailable');
    await until(() => lca.got.filter((m) => m.type === 'status').length === 3);
    expect(lca.got.filter((m) => m.type === 'status')).toEqual([
      { type: 'status', status: 'started', detail: null },
      { type: 'status', status: 'service-unavailable', detail: 'database down' },
      { type: 'status', status: 'started', detail: null },
    ]);
  });

  it('confirms a promotion only after its handler resolved; acts as primary only with a lease', async () => {
    const a = await connect();
    let release!: () => void;
    const seen: Array<{ role: string; epoch: number; during: { role: string; primary: boolean; confirmed: boolean } }> = [];
    a.onRole(async (role, { epoch }) => {
      seen.push({ role, epoch, during: { role: a.role, primary: a.isPrimary(), confirmed: lca.got.some((m) => m.type === 'role-confirmed') } });
      await new Promise<void>((r) => (release = r));
    });
    const answer = promote(a, { ttlMs: 60_000, epoch: 5, command: 'cmd:p1' });
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ role: 'primary', epoch: 5, during: { role: 'backup', primary: false, confirmed: false } });
    // pings are answered while the handler runs
    lca.send({ type: 'ping', id: 99 });
    await lca.next('pong', (m) => m.id === 99);
    expect(lca.got.some((m) => m.type === 'role-confirmed')).toBe(false);
    release();
    expect(await answer).toEqual({ type: 'role-confirmed', command: 'cmd:p1', role: 'primary', epoch: 5 });
    expect(a.role).toBe('primary');
    expect(a.isPrimary()).toBe(true);
    expect(a.roleAnswer()).toEqual({ app: 'app-1', role: 'primary', acting: true });
  });

  it('a demotion takes effect before its handler runs and is confirmed after it', async () => {
    const a = await connect();
    await promote(a, { ttlMs: null });
    expect(a.isPrimary()).toBe(true);
    const during: Array<{ role: string; primary: boolean }> = [];
    a.onRole((role) => {
      if (role === 'backup') during.push({ role: a.role, primary: a.isPrimary() });
    });
    const from = lca.got.length;
    lca.send({ type: 'role', role: 'backup', epoch: 6, command: 'cmd:d1', peer: null, peerCheck: false });
    expect(await lca.next('role-confirmed', (m) => m.command === 'cmd:d1', from)).toMatchObject({ role: 'backup', epoch: 6 });
    expect(during).toEqual([{ role: 'backup', primary: false }]);
    expect(a.roleAnswer()).toEqual({ app: 'app-1', role: 'backup', acting: false });
  });

  it('fences itself when its lease lapses (report and onFenced), and resumes on a fresh lease', async () => {
    const a = await connect();
    const fences: Array<{ fenced: boolean; monoNs: bigint }> = [];
    a.onFenced((fenced, monoNs) => fences.push({ fenced, monoNs }));
    const before = process.hrtime.bigint();
    await promote(a, { ttlMs: 200, epoch: 5 });
    expect(a.isPrimary()).toBe(true);
    const from = lca.got.length;
    const fenced = await lca.next('fenced', (m) => m.fenced, from);
    const after = process.hrtime.bigint();
    expect(a.isPrimary()).toBe(false);
    expect(a.role).toBe('primary');
    expect(a.roleAnswer().acting).toBe(false);
    // the reported instant is the lease's expiry: after the grant + ttl, never after the report arrived
    expect(BigInt(fenced.monoNs)).toBeGreaterThanOrEqual(before + 200_000_000n);
    expect(BigInt(fenced.monoNs)).toBeLessThanOrEqual(after);
    expect(fences).toEqual([{ fenced: true, monoNs: BigInt(fenced.monoNs) }]);
    lca.send({ type: 'lease', ttlMs: 60_000, epoch: 5 });
    await lca.next('fenced', (m) => !m.fenced, from);
    expect(a.isPrimary()).toBe(true);
    expect(fences.map((f) => f.fenced)).toEqual([true, false]);
  });

  it('isPrimary() reads the clock on every call: an injected clock past the expiry fences at once', async () => {
    let now = 1_000_000_000n;
    const a = await connect({ clock: () => now });
    await promote(a, { ttlMs: 300 });
    expect(a.isPrimary()).toBe(true);
    now += 299_999_999n;
    expect(a.isPrimary()).toBe(true);
    now += 1n;
    expect(a.isPrimary()).toBe(false);
  });

  it('peer check: refuses while the peer answers primary, proceeds when it answers backup', async () => {
    let answer: RoleAnswer = { app: 'peer', role: 'primary', acting: true };
    const peer = await peerServer(() => answer);
    servers.push(peer.server);
    const a = await connect();
    let ran = 0;
    a.onRole(() => {
      ran++;
    });
    const refused = await promote(a, { ttlMs: null, peer: peer.endpoint, peerCheck: true });
    expect(refused).toMatchObject({ type: 'role-refused', kind: 'peer-check' });
    expect(refused.type === 'role-refused' && refused.reason).toMatch(/answers primary/);
    expect(ran).toBe(0);
    expect(a.role).toBe('backup');
    // a fenced primary (not acting) does not count as primary
    answer = { app: 'peer', role: 'primary', acting: false };
    expect(await promote(a, { ttlMs: null, peer: peer.endpoint, peerCheck: true })).toMatchObject({ type: 'role-confirmed' });
    expect(peer.asked()).toBe(2);
    expect(ran).toBe(1);
    expect(a.isPrimary()).toBe(true);
  });

  it('peer check: a peer that does not answer in time or is not listening is down: promotion proceeds', async () => {
    const hung = await peerServer(() => 'hang');
    servers.push(hung.server);
    const a = await connect({ peerTimeoutMs: 200 });
    expect(await promote(a, { ttlMs: null, peer: hung.endpoint, peerCheck: true, epoch: 5 })).toMatchObject({ type: 'role-confirmed' });
    expect(hung.asked()).toBe(1);
    const from = lca.got.length;
    lca.send({ type: 'role', role: 'backup', epoch: 6, command: 'd', peer: null, peerCheck: false });
    await lca.next('role-confirmed', (m) => m.command === 'd', from);
    expect(await promote(a, { ttlMs: null, peer: await closedPort(), peerCheck: true, epoch: 7 })).toMatchObject({ type: 'role-confirmed' });
  });

  it('peer check: an answer that is not a role answer refuses; peerCheck false asks nobody', async () => {
    const garbage = await peerServer(() => 'garbage');
    servers.push(garbage.server);
    const a = await connect();
    expect(await promote(a, { ttlMs: null, peer: garbage.endpoint, peerCheck: true })).toMatchObject({ type: 'role-refused', kind: 'peer-check' });
    expect(await promote(a, { ttlMs: null, peer: garbage.endpoint, peerCheck: false })).toMatchObject({ type: 'role-confirmed' });
    expect(garbage.asked()).toBe(1);
  });

  it('a failing precondition refuses the promotion (kind precondition) without running the handler', async () => {
    const a = await connect();
    let ok = false;
    a.precondition(async () => ok);
    let ran = 0;
    a.onRole(() => {
      ran++;
    });
    expect(await promote(a, { ttlMs: null })).toMatchObject({ type: 'role-refused', kind: 'precondition' });
    expect(ran).toBe(0);
    ok = true;
    expect(await promote(a, { ttlMs: null })).toMatchObject({ type: 'role-confirmed' });
    expect(ran).toBe(1);
  });

  it('does not reconnect when the LCA drops the connection; the lease still lapses and is noticed', async () => {
    const a = await connect();
    const fences: boolean[] = [];
    a.onFenced((f) => fences.push(f));
    await promote(a, { ttlMs: 300 });
    lca.dropConnection();
    await a.closed;
    expect(a.connected).toBe(false);
    await until(() => fences.length === 1);
    expect(fences).toEqual([true]);
    expect(a.isPrimary()).toBe(false);
    expect(lca.connections).toBe(1);
  });
});

/** Polls a condition (for state the SDK changes in between socket events). */
const until = async (cond: () => boolean, timeoutMs = 5000): Promise<void> => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};
