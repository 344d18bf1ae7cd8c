import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createUser } from '@nats-io/nkeys';
import { readNkeySeed } from '@ha/bus';
import { identityName, permissionsOf, SERVICE_IDENTITIES, type ClusterConfig, type Identity, type Permissions } from '@ha/events';

/** The Redis key of the SCS lease (apps/scs/src/main.ts), the only key the `scs` Redis user may touch. */
export const leaseKey = (cluster: string): string => `ha:${cluster}:scs:leader`;

/**
 * The commands of the SCS lease (apps/scs/src/runtime/lease.ts): `SET NX PX`, and the two scripts
 * (`EVAL`) whose calls are checked against the same user (GET, PEXPIRE, DEL); EVALSHA and PTTL in
 * case the lease ever caches its scripts or reads the remaining time; INFO and PING for the client's
 * ready check and health.
 */
export const REDIS_LEASE_COMMANDS = ['set', 'get', 'pexpire', 'pttl', 'del', 'eval', 'evalsha', 'info', 'ping'] as const;

export type GeneratedIdentity = Readonly<{ name: string; identity: Identity; publicKey: string; seedFile: string; permissions: Permissions }>;
export type SecureInitResult = Readonly<{ identities: readonly GeneratedIdentity[]; files: readonly string[]; /** kept seed files others can read */ warnings: readonly string[] }>;

export class SecureInitError extends Error {}

const q = (s: string): string => JSON.stringify(s);

/** The `authorization` block: public keys and permissions only, never a seed. */
export const renderAuthConf = (cluster: string, ids: readonly Pick<GeneratedIdentity, 'name' | 'publicKey' | 'permissions'>[]): string => {
  const users = ids.map((i) => {
    const p = i.permissions;
    const perms = [`publish: { allow: [${p.publish.map(q).join(', ')}] }`, `subscribe: { allow: [${p.subscribe.map(q).join(', ')}] }`];
    if (p.allowResponses) perms.push('allow_responses: true');
    return `    # ${i.name}\n    { nkey: ${q(i.publicKey)}, permissions: {\n        ${perms.join('\n        ')}\n    } }`;
  });
  return [
    `# Identities of cluster ${cluster}, written by hactl secure init.`,
    '# Include this file from nats-server.conf (include "auth.conf"): every client must then present one of',
    '# these nkeys (anonymous connections are refused). Only public keys are here; each seed is in its own',
    '# <identity>.nk file, to be given to that process only (--nkey or HA_NATS_NKEY).',
    'authorization {',
    '  users = [',
    users.join('\n'),
    '  ]',
    '}',
    '',
  ].join('\n');
};

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** A Redis ACL file: the default user off, `scs` limited to the lease key and commands, `admin` for operators. */
export const renderRedisAcl = (cluster: string, passwords: Readonly<{ scs: string; admin: string }>): string =>
  [
    `user default off`,
    `user scs on #${sha256(passwords.scs)} resetkeys ~${leaseKey(cluster)} resetchannels -@all ${REDIS_LEASE_COMMANDS.map((c) => `+${c}`).join(' ')}`,
    `user admin on #${sha256(passwords.admin)} ~* &* +@all`,
    '',
  ].join('\n');

const writeSecret = (path: string, text: string, replace: boolean): void => {
  writeFileSync(path, text, { mode: 0o600, flag: replace ? 'w' : 'wx' });
  chmodSync(path, 0o600); // an existing file keeps its mode on overwrite
};

/** `fresh`: refuse when identities exist; `force`: replace them all; `add`: keep them, make the missing ones. */
export type SecureInitMode = 'fresh' | 'force' | 'add';

const readPasswords = (path: string): { scs: string; admin: string } | null => {
  if (!existsSync(path)) return null;
  const pw = Object.fromEntries(readFileSync(path, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  const { scs, admin } = pw;
  if (!scs || !admin) throw new SecureInitError(`${path} lacks the scs or admin password; --force makes new ones`);
  return { scs, admin };
};

/**
 * Writes `auth.conf`, one seed per identity (`host-<id>.nk` per host, `scs.nk`, `operator.nk`,
 * `reader.nk`, `admin.nk`), `redis-users.acl` and `redis-passwords`; seeds and passwords mode 0600.
 * Refuses to replace existing seeds unless `force`; with `add` it keeps them (a host added to the
 * cluster file gets its seed, nobody else's changes) and writes auth.conf for all.
 */
export const secureInit = (config: Pick<ClusterConfig, 'cluster' | 'hosts'>, out: string, mode: SecureInitMode): SecureInitResult => {
  const identities: Identity[] = [...config.hosts.map((h): Identity => ({ kind: 'host', host: h.id })), ...SERVICE_IDENTITIES.map((k): Identity => ({ kind: k }))];
  const secrets = [...identities.map((i) => `${identityName(i)}.nk`), 'redis-passwords'];
  mkdirSync(out, { recursive: true, mode: 0o700 });
  if (mode === 'fresh') {
    const there = secrets.filter((f) => existsSync(join(out, f)));
    if (there.length > 0) throw new SecureInitError(`${join(out, there[0] ?? '')} exists${there.length > 1 ? ` (and ${there.length - 1} more)` : ''}: identities already made there; --add keeps them and makes the missing ones, --force replaces them all`);
  }
  const warnings: string[] = [];
  const made: GeneratedIdentity[] = identities.map((identity) => {
    const name = identityName(identity);
    const seedFile = join(out, `${name}.nk`);
    let publicKey: string;
    if (mode === 'add' && existsSync(seedFile)) {
      publicKey = readNkeySeed(seedFile, (msg) => warnings.push(msg)).publicKey;
    } else {
      const kp = createUser();
      writeSecret(seedFile, new TextDecoder().decode(kp.getSeed()) + '\n', mode === 'force');
      publicKey = kp.getPublicKey();
      kp.clear();
    }
    return { name, identity, publicKey, seedFile, permissions: permissionsOf(identity, publicKey) };
  });
  const pwFile = join(out, 'redis-passwords');
  const kept = mode === 'add' ? readPasswords(pwFile) : null;
  const passwords = kept ?? { scs: randomBytes(24).toString('base64url'), admin: randomBytes(24).toString('base64url') };
  if (!kept) {
    writeSecret(
      pwFile,
      [
        '# Redis ACL passwords written by hactl secure init (users in redis-users.acl); keep this file private.',
        `# The SCS connects as: HA_REDIS_URL=redis://scs:<password>@<redis host>:6379`,
        `scs ${passwords.scs}`,
        `admin ${passwords.admin}`,
        '',
      ].join('\n'),
      mode === 'force',
    );
  }
  const authFile = join(out, 'auth.conf');
  writeFileSync(authFile, renderAuthConf(config.cluster, made));
  const aclFile = join(out, 'redis-users.acl');
  writeFileSync(aclFile, renderRedisAcl(config.cluster, passwords)); // password hashes only: the Redis server must read it
  return { identities: made, files: [authFile, ...made.map((m) => m.seedFile), aclFile, pwFile], warnings };
};

/**
 * Every identity's permissions as markdown, with `<id>` for the host and `<inbox>` for the
 * identity's inbox prefix: the block docs/security.md shows (a unit test keeps the two equal).
 */
export const describePermissions = (): string => {
  const ids: Identity[] = [{ kind: 'host', host: 'HOSTID' }, ...SERVICE_IDENTITIES.map((k): Identity => ({ kind: k }))];
  const show = (s: string) => '`' + s.replaceAll('HOSTID', '<id>').replaceAll('_INBOX.PUBKEY', '<inbox>') + '`';
  return ids
    .map((i) => {
      const p = permissionsOf(i, 'PUBKEY');
      return [
        `- **${identityName(i).replace('HOSTID', '<id>')}**`,
        `  - publish: ${p.publish.map(show).join(', ')}`,
        `  - subscribe: ${p.subscribe.map(show).join(', ')}`,
        ...(p.allowResponses ? ['  - answers requests it received (`allow_responses`)'] : []),
      ].join('\n');
    })
    .join('\n');
};
