#!/usr/bin/env node
/*
 * The demo's redundant server, built on the SDK (@ha/agent): a counter that only the acting primary
 * increments. Run by an LCA with `probe: { kind: sdk }`:
 *   node examples/counter-server/dist/main.js --port N [--record <file>]
 */
import { appendFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { connectAgent, type Agent, type Role } from '@ha/agent';

const USAGE = 'usage: counter-server --port <n> [--record <file>]\n';

type Options = { port: number; record: string | null; roleDelayMs: number };

const options = (): Options => {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      record: { type: 'string' },
      // For tests: a promotion's handler that takes this long.
      'role-delay-ms': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port <n> is required');
  const delay = Number(values['role-delay-ms'] ?? 0);
  return { port, record: values.record ?? null, roleDelayMs: Number.isFinite(delay) && delay > 0 ? delay : 0 };
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Blocks the event loop (pings go unanswered): how tests make the application hang while it runs. */
const busy = (ms: number): void => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
};

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
};

const serve = (agent: Agent, o: Options, counter: { count: number }) => (req: IncomingMessage, res: ServerResponse): void => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  req.resume();
  switch (route) {
    case 'POST /incr':
      // Checked on every write: the lease may have lapsed since the last one.
      if (!agent.isPrimary()) return json(res, 409, { error: 'not the acting primary: writes refused', role: agent.role });
      counter.count++;
      return json(res, 200, { count: counter.count });
    case 'GET /count':
      return json(res, 200, { count: counter.count, role: agent.role, acting: agent.isPrimary() });
    case 'GET /ha/role':
      return json(res, 200, agent.roleAnswer());
    case 'POST /ha/unavailable':
      agent.serviceUnavailable(url.searchParams.get('detail') ?? 'reported by operator');
      return json(res, 200, { status: 'service-unavailable' });
    case 'POST /ha/available':
      agent.started();
      return json(res, 200, { status: 'started' });
    // Hidden test endpoints: faults from inside the application.
    case 'POST /ha/test/busy': {
      const ms = Number(url.searchParams.get('ms') ?? 60_000);
      json(res, 202, { busyMs: ms });
      setImmediate(() => busy(ms));
      return;
    }
    case 'POST /ha/test/disconnect':
      agent.close();
      return json(res, 202, { disconnected: true });
    case 'GET /ha/test/pings':
      return json(res, 200, { pings: agent.pingsAnswered, connected: agent.connected });
    default:
      return json(res, 404, { error: `no route ${route}` });
  }
};

const main = async (): Promise<void> => {
  let o: Options;
  try {
    o = options();
  } catch (e) {
    process.stderr.write(`counter-server: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (!process.env['HA_LCA_SOCKET']) {
    process.stderr.write('counter-server: not run under an LCA (HA_LCA_SOCKET is not set); start it through an lca\n');
    process.exit(2);
  }
  const agent = await connectAgent();
  const record = (event: 'role' | 'fenced' | 'unfenced', role: Role, monoNs: bigint): void => {
    if (!o.record) return;
    appendFileSync(o.record, `${JSON.stringify({ app: agent.app, pid: process.pid, event, role, monoNs: monoNs.toString() })}\n`);
  };
  // Recorded so that the acting interval is never understated: a promotion before it takes effect,
  // a demotion after it did.
  agent.onRole(async (role) => {
    if (role === 'primary') {
      if (o.roleDelayMs > 0) await sleep(o.roleDelayMs);
      record('role', role, process.hrtime.bigint());
    } else {
      record('role', role, process.hrtime.bigint());
      if (o.roleDelayMs > 0) await sleep(o.roleDelayMs);
    }
  });
  agent.onFenced((fenced, monoNs) => record(fenced ? 'fenced' : 'unfenced', agent.role, monoNs));
  void agent.closed.then(() => process.stderr.write('counter-server: connection to the LCA ended\n'));

  const counter = { count: 0 };
  const server = createServer(serve(agent, o, counter));
  server.on('error', (e) => {
    process.stderr.write(`counter-server: ${e.message}\n`);
    process.exit(1);
  });
  server.listen(o.port, '127.0.0.1', () => {
    process.stderr.write(`counter-server: ${agent.app} listening on 127.0.0.1:${o.port}\n`);
    agent.started();
  });
  const stop = (): void => {
    agent.close();
    server.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
};

main().catch((e: unknown) => {
  process.stderr.write(`counter-server: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
