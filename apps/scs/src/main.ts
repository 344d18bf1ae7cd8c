import { hostname } from 'node:os';
import { authFlags, connectForever, createLogger, defaultUrlNotes, natsAuthFrom, DEFAULT_NATS_URL, DEFAULT_REDIS_URL, loadConfigFile, parseArgs, redactUrl, runMain, str, usage, UsageError, withRedisPassword, type FlagSpec } from '@ha/bus';
import type { ClusterConfig } from '@ha/events';
import { RedisLease } from './runtime/lease.js';
import { ControlServer } from './runtime/server.js';
import { applyV8Flags } from './v8flags.js';

const FLAGS: FlagSpec = {
  id: { value: true, help: 'this control server\'s id', env: 'HA_SCS_ID' },
  nats: { value: true, help: 'NATS URL(s), comma-separated', env: 'HA_NATS_URL', default: DEFAULT_NATS_URL },
  redis: { value: true, help: 'Redis URL for the leader lease', env: 'HA_REDIS_URL', default: DEFAULT_REDIS_URL },
  'redis-password-file': { value: true, help: 'the Redis password from this file (alone, or a `<user> <password>` line: the redis-passwords of hactl secure init), kept off the command line', env: 'HA_REDIS_PASSWORD_FILE' },
  config: { value: true, help: 'cluster file (YAML/JSON); the active SCS appends it to the log when it differs' },
  http: { value: true, help: 'serve GET /status and /healthz on host:port' },
  ...authFlags,
};

const ABOUT = `Runs one solution control server (SCS). Every instance projects the event log into the
state view and runs the decider; the one holding the Redis lease with the latest claim in the log
is active: it carries out decisions and watches heartbeats. With Redis down no SCS acts after leaseMs.`;

applyV8Flags();

runMain('scs', async () => {
  const args = parseArgs(process.argv.slice(2), FLAGS);
  if (args.help) {
    process.stdout.write(usage('scs --id <id> [--nats <url>] [--nkey <file>] [--redis <url>] [--config <file>] [--http <host:port>]', ABOUT, FLAGS));
    return;
  }
  if (args.positional.length > 0) throw new UsageError(`unexpected argument ${args.positional[0]}`);
  const id = str(args.flags['id']) ?? `scs-${hostname()}-${process.pid}`;
  for (const note of defaultUrlNotes(args, FLAGS, ['nats', 'redis'])) createLogger('scs', { scs: id }).warn(note);
  const configPath = str(args.flags['config']);
  const config: ClusterConfig | null = configPath ? await loadConfigFile(configPath) : null;
  let http: { host: string; port: number } | null = null;
  const h = str(args.flags['http']);
  if (h) {
    const m = /^(.*):(\d+)$/.exec(h);
    if (!m) throw new UsageError(`--http wants host:port, got ${h}`);
    http = { host: m[1] || '127.0.0.1', port: Number(m[2]) };
  }
  const log = createLogger('scs', { scs: id });
  const auth = natsAuthFrom(args.flags, (msg) => log.warn(msg));
  if (!auth.seed) log.warn('no NATS identity (--nkey or HA_NATS_NKEY): anyone who can reach the bus can forge events and commands');
  const natsUrl = str(args.flags['nats']) ?? DEFAULT_NATS_URL;
  const passwordFile = str(args.flags['redis-password-file']);
  const redisUrl = passwordFile ? withRedisPassword(str(args.flags['redis']) ?? DEFAULT_REDIS_URL, passwordFile) : str(args.flags['redis']) ?? DEFAULT_REDIS_URL;
  let stopping = false;
  const nc = await connectForever(natsUrl, `scs:${id}`, log, () => stopping, auth);
  const feedNc = await connectForever(natsUrl, `scs:${id}:heartbeats`, log, () => stopping, auth);
  const timeoutMs = config?.timing.scsTimeoutMs ?? 1000;
  const server = new ControlServer({
    id,
    nc,
    feedNc,
    config,
    http,
    log,
    lease: (cluster) => new RedisLease(redisUrl, `ha:${cluster}:scs:leader`, id, timeoutMs, (msg) => log.warn(msg + '; retrying')),
  });
  await server.start();
  log.info({ nats: redactUrl(natsUrl), redis: redactUrl(redisUrl), http: h ?? null }, 'scs started');
  const shutdown = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ sig }, 'stopping');
    await server.stop();
    await Promise.all([nc.drain().catch(() => undefined), feedNc.drain().catch(() => undefined)]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
});
