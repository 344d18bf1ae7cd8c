import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_NATS_URL,
  UsageError,
  authFlags,
  natsAuthFrom,
  createLogger,
  defaultUrlNotes,
  loadConfigFile,
  parseArgs,
  runMain,
  str,
  usage,
  type FlagSpec,
} from '@ha/bus';
import { isToken } from '@ha/events';
import { Lca } from './agent.js';
import { StateDir } from './pidfiles.js';

const spec: FlagSpec = {
  host: { value: true, help: 'id of this host', env: 'HA_HOST_ID' },
  nats: { value: true, help: 'NATS server URL(s), comma-separated', env: 'HA_NATS_URL', default: DEFAULT_NATS_URL },
  config: { value: true, help: 'cluster file used until the log holds a configuration' },
  'state-dir': { value: true, help: 'pidfiles, application logs and sockets', env: 'HA_STATE_DIR', default: join(tmpdir(), 'ha-lca') },
  ...authFlags,
};

const SYNOPSIS = 'lca --host <id> [--nats <url>] [--nkey <file>] [--config <file>] [--state-dir <dir>]';
const ABOUT = 'Local control agent: runs the applications of one host, reports their events and heartbeat, carries out SCS commands.';

runMain('lca', async () => {
  const args = parseArgs(process.argv.slice(2), spec);
  if (args.help) {
    process.stdout.write(usage(SYNOPSIS, ABOUT, spec));
    return;
  }
  if (args.positional.length > 0) throw new UsageError(`unexpected argument ${args.positional[0] ?? ''}`);
  const host = str(args.flags['host']);
  if (!host) throw new UsageError('--host is required (or HA_HOST_ID)');
  if (!isToken(host)) throw new UsageError(`--host ${JSON.stringify(host)}: must be letters, digits, "-" or "_"`);
  const configPath = str(args.flags['config']);
  const fileConfig = configPath ? await loadConfigFile(configPath) : null;
  const log = createLogger('lca', { host });
  for (const note of defaultUrlNotes(args, spec, ['nats'])) log.warn(note);
  const auth = natsAuthFrom(args.flags, (msg) => log.warn(msg));
  if (!auth.seed) log.warn('no NATS identity (--nkey or HA_NATS_NKEY): anyone who can reach the bus can command this host');
  const lca = new Lca({
    host,
    natsUrl: str(args.flags['nats']) ?? DEFAULT_NATS_URL,
    natsAuth: auth,
    dir: new StateDir(join(str(args.flags['state-dir']) ?? join(tmpdir(), 'ha-lca'), host)),
    fileConfig,
    log,
  });
  // SIGTERM drains first; SIGINT, or a second signal during the drain, stops at once.
  const stop = (signal: NodeJS.Signals): void => {
    void lca.terminate(signal).finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('unhandledRejection', (e) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'unhandled rejection'));
  try {
    await lca.run();
  } catch (e) {
    if (lca.stopping) return;
    throw e;
  }
});
