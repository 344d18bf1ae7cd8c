import { authFlags, authRefusal, connectOnce, isAuthRefusal, DEFAULT_NATS_URL, defaultUrlNotes, loadConfigFile, natsAuthFrom, redactUrl, parseArgs, runMain, str, usage, UsageError, type FlagSpec, type NatsConnection } from '@ha/bus';
import { codec, isToken, StatusDocSchema, subjects } from '@ha/events';
import { formatStatus } from './format.js';
import { request } from './request.js';
import { secureInit, SecureInitError } from './secure.js';

const FLAGS: FlagSpec = {
  nats: { value: true, help: 'NATS URL(s), comma-separated', env: 'HA_NATS_URL', default: DEFAULT_NATS_URL },
  json: { value: false, help: 'status: print the status document as JSON' },
  scs: { value: true, help: 'status: ask this SCS (by id) instead of the first to answer' },
  timeout: { value: true, help: 'milliseconds to wait for an answer (status 3000, switchover/pause/resume 15000)' },
  ...authFlags,
  config: { value: true, help: 'secure init: the cluster file whose hosts get identities' },
  out: { value: true, help: 'secure init: directory for auth.conf, the seeds and the Redis ACL' },
  force: { value: false, help: 'secure init: replace identities already in --out' },
  add: { value: false, help: 'secure init: keep identities already in --out, make the missing ones (a new host)' },
};

const ABOUT = `Operator CLI.

commands:
  status [--json] [--scs <id>]
                         the state view, from the first SCS whose view has caught up with the log
                         (request/reply on ${subjects.status}; --scs asks one: ${subjects.status}.<id>)
  switchover <pair>      graceful manual switchover: the primary is demoted and confirms, then the
                         backup is promoted; waits for the announcement (reason manual)
  pause <pair>           failures of the pair are shown, nothing is done automatically
  resume <pair>          automatic handling again
  secure init --config <cluster file> --out <dir> [--add | --force]
                         writes the identities of the bus (docs/security.md): auth.conf (an authorization block to
                         include in nats-server's configuration: public keys and permissions), one
                         nkey seed per identity (host-<id>.nk, scs.nk, operator.nk, reader.nk,
                         admin.nk; mode 0600, never printed), redis-users.acl and redis-passwords

Every command that connects takes --nkey <seed file> (or HA_NATS_NKEY) and the TLS options;
a tls:// URL asks for TLS.

exit codes: 0 done, 1 refused (the reason is printed), 2 usage error, timeout or no connection`;

const fail = (msg: string): never => {
  process.stderr.write(`hactl: ${msg}\n`);
  process.exit(2);
};

runMain('hactl', async () => {
  const args = parseArgs(process.argv.slice(2), FLAGS);
  const [cmd, ...rest] = args.positional;
  if (args.help || !cmd) {
    process.stdout.write(usage('hactl <command> [options]', ABOUT, FLAGS));
    if (!cmd && !args.help) process.exit(2);
    return;
  }
  if (cmd === 'secure') {
    const [sub, extra] = rest;
    if (sub !== 'init') throw new UsageError(`secure wants a subcommand: hactl secure init --config <file> --out <dir>`);
    if (extra) throw new UsageError(`secure init takes no argument, got ${extra}`);
    const configPath = str(args.flags['config']);
    const out = str(args.flags['out']);
    if (!configPath || !out) throw new UsageError('secure init needs --config <cluster file> and --out <dir>');
    const config = await loadConfigFile(configPath);
    try {
      if (args.flags['force'] === true && args.flags['add'] === true) throw new UsageError('secure init takes --add or --force, not both');
      const r = secureInit(config, out, args.flags['force'] === true ? 'force' : args.flags['add'] === true ? 'add' : 'fresh');
      for (const w of r.warnings) process.stderr.write(`hactl: warning: ${w}\n`);
      process.stdout.write(
        `identities of cluster ${config.cluster} written to ${out}:\n` +
          r.identities.map((i) => `  ${i.name.padEnd(16)} ${i.publicKey}  ${i.seedFile}\n`).join('') +
          `include ${r.files[0] ?? ''} from nats-server's configuration; load redis-users.acl with Redis's aclfile.\n`,
      );
    } catch (e) {
      if (e instanceof SecureInitError) fail(e.message);
      throw e;
    }
    return;
  }
  const auth = natsAuthFrom(args.flags, (msg) => process.stderr.write(`hactl: warning: ${msg}\n`));
  const url = str(args.flags['nats']) ?? DEFAULT_NATS_URL;
  // which URL it uses when none was given: on stderr, and within the one line of a failure to connect
  const [note] = defaultUrlNotes(args, FLAGS, ['nats']);
  const connect = async (): Promise<NatsConnection> => {
    const nc = await connectOnce(url, 'hactl', auth).catch((e: Error) =>
      fail(isAuthRefusal(e) ? authRefusal(auth) : `cannot reach NATS at ${redactUrl(url)}: ${e.message}${note ? ` (${note})` : ''}`),
    );
    if (note) process.stderr.write(`hactl: ${note}\n`);
    return nc;
  };
  const timeout = Number(str(args.flags['timeout']) ?? (cmd === 'status' ? '3000' : '15000'));
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError('--timeout wants a positive number of milliseconds');
  switch (cmd) {
    case 'status': {
      if (rest.length > 0) throw new UsageError(`status takes no argument, got ${rest[0]}`);
      const scs = str(args.flags['scs']);
      if (scs !== undefined && !isToken(scs)) throw new UsageError(`--scs wants an SCS id (letters, digits, - and _), got ${JSON.stringify(scs)}`);
      const subject = scs === undefined ? subjects.status : subjects.statusOf(scs);
      const nc = await connect();
      try {
        const reply = await nc.request(subject, codec.encode({}), { timeout }).catch((e: Error) =>
          fail(/no responders/i.test(e.message) ? `no SCS answered on ${subject} (is ${scs === undefined ? 'an scs' : `scs ${scs}`} running?)` : `no answer on ${subject}: ${e.message}`),
        );
        const json = codec.decodeJson(reply.data);
        const refusal = json.ok && typeof json.value === 'object' && json.value !== null && 'error' in json.value ? json.value.error : undefined;
        if (typeof refusal === 'string') fail(`the SCS could not answer: ${refusal}`);
        const doc = json.ok ? StatusDocSchema.safeParse(json.value) : null;
        if (!doc?.success) fail(`the SCS answered with a malformed status document`);
        else process.stdout.write(args.flags['json'] ? JSON.stringify(doc.data, null, 2) + '\n' : formatStatus(doc.data));
      } finally {
        await nc.close();
      }
      return;
    }
    case 'switchover':
    case 'pause':
    case 'resume': {
      const [pair, extra] = rest;
      if (!pair) throw new UsageError(`${cmd} needs a pair, e.g. hactl ${cmd} counter-a`);
      if (extra) throw new UsageError(`${cmd} takes one pair, got also ${extra}`);
      const nc = await connect();
      try {
        const r = await request(nc, cmd, pair, timeout);
        (r.code === 2 ? process.stderr : process.stdout).write(r.code === 2 ? `hactl: ${r.message}\n` : r.message + '\n');
        process.exitCode = r.code;
      } finally {
        await nc.close();
      }
      return;
    }
    default:
      throw new UsageError(`unknown command ${cmd}; see hactl --help`);
  }
});
