import { readFileSync, statSync } from 'node:fs';
import { nkeyAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import { fromSeed } from '@nats-io/nkeys';
import { inboxPrefix } from '@ha/events';
import type { FlagSpec } from './cli.js';
import { UsageError } from './cli.js';

/**
 * How a process proves who it is to NATS and checks the server: an nkey seed (DESIGN section 3b)
 * and TLS files. Every bin takes the same flags and environment variables.
 */
export type NatsAuth = Readonly<{
  /** The seed file given, for messages. */
  nkeyFile?: string;
  /** The seed itself (kept in memory only; never logged). */
  seed?: Uint8Array;
  /** The identity's public key: what the server's `authorization` block names. */
  publicKey?: string;
  tls?: Readonly<{ caFile?: string; certFile?: string; keyFile?: string }>;
}>;

export const NO_AUTH: NatsAuth = {};

export const authFlags: FlagSpec = {
  nkey: { value: true, help: 'nkey seed file of this identity (hactl secure init writes them)', env: 'HA_NATS_NKEY' },
  'tls-ca': { value: true, help: 'CA certificate to verify the NATS server with', env: 'HA_NATS_TLS_CA' },
  'tls-cert': { value: true, help: 'client certificate for NATS (with --tls-key)', env: 'HA_NATS_TLS_CERT' },
  'tls-key': { value: true, help: 'private key of the client certificate', env: 'HA_NATS_TLS_KEY' },
};

const readable = (path: string, what: string): void => {
  try {
    readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
};

/**
 * Reads the seed file: a missing, unreadable or malformed one is a `UsageError` naming the file;
 * one that others may read is accepted with `warn` (a shared seed is a shared identity).
 */
export const readNkeySeed = (path: string, warn: (msg: string) => void): { seed: Uint8Array; publicKey: string } => {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8');
    mode = statSync(path).mode;
  } catch (e) {
    throw new UsageError(`cannot read the nkey seed file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // the file may hold comments or blank lines; the seed is the one line starting with S
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => /^S[A-Z2-7]{50,}$/.test(l));
  if (!line) throw new UsageError(`${path} holds no nkey seed (a line starting with SU...)`);
  const seed = new TextEncoder().encode(line);
  let publicKey: string;
  try {
    const kp = fromSeed(seed);
    publicKey = kp.getPublicKey();
  } catch (e) {
    throw new UsageError(`${path} holds a malformed nkey seed: ${(e as Error).message}`);
  }
  if (!publicKey.startsWith('U')) throw new UsageError(`${path} is not a user nkey seed (its public key starts with ${publicKey[0] ?? '?'}, not U)`);
  if ((mode & 0o077) !== 0) warn(`nkey seed file ${path} can be read by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  return { seed, publicKey };
};

/** The `--nkey` / `--tls-*` flags (or their environment variables) made into a `NatsAuth`. */
export const natsAuthFrom = (flags: Readonly<Record<string, string | true>>, warn: (msg: string) => void): NatsAuth => {
  const s = (k: string): string | undefined => (typeof flags[k] === 'string' ? flags[k] : undefined);
  const nkeyFile = s('nkey');
  const caFile = s('tls-ca');
  const certFile = s('tls-cert');
  const keyFile = s('tls-key');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together (or HA_NATS_TLS_CERT and HA_NATS_TLS_KEY)');
  if (caFile) readable(caFile, 'TLS CA file');
  if (certFile) readable(certFile, 'TLS certificate file');
  if (keyFile) readable(keyFile, 'TLS key file');
  const tls = caFile || certFile ? { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) } : undefined;
  return {
    ...(nkeyFile ? { nkeyFile, ...readNkeySeed(nkeyFile, warn) } : {}),
    ...(tls ? { tls } : {}),
  };
};

/** Connection options for `auth` and a server list (a `tls://` URL asks for TLS even without files). */
export const authOptions = (auth: NatsAuth, servers: readonly string[]): Partial<NodeConnectionOptions> & { servers: string[] } => {
  const wantsTls = servers.some((s) => /^tls:\/\//i.test(s));
  const out: Partial<NodeConnectionOptions> & { servers: string[] } = { servers: servers.map((s) => s.replace(/^tls:\/\//i, 'nats://')) };
  if (auth.seed && auth.publicKey) {
    out.authenticator = nkeyAuthenticator(auth.seed);
    out.inboxPrefix = inboxPrefix(auth.publicKey);
  }
  if (auth.tls || wantsTls) out.tls = { ...(auth.tls ?? {}) };
  return out;
};

/** True when the server refused the client's credentials (rather than being unreachable). */
export const isAuthRefusal = (e: unknown): boolean => e instanceof Error && /authorization violation|authentication/i.test(e.message);

/** One line for a connection refused because of its identity: which identity, and what to check. */
export const authRefusal = (auth: NatsAuth): string =>
  auth.nkeyFile
    ? `NATS refused the identity in ${auth.nkeyFile} (public key ${auth.publicKey ?? '?'}): is it in the server's auth.conf?`
    : 'NATS refused an anonymous connection: give this process its identity with --nkey <seed file> or HA_NATS_NKEY';
