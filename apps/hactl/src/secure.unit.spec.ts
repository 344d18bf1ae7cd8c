import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromSeed } from '@nats-io/nkeys';
import { readNkeySeed } from '@ha/bus';
import { inboxPrefix } from '@ha/events';
import { describePermissions, leaseKey, secureInit, SecureInitError } from './secure.js';

const config = { cluster: 'demo', hosts: [{ id: 'host-a' }, { id: 'host-b' }] };

const fresh = () => {
  const out = join(mkdtempSync(join(tmpdir(), 'ha-secure-')), 'ids');
  return { out, r: secureInit(config, out, 'fresh') };
};

describe('hactl secure init', () => {
  it('writes one seed per identity, mode 0600, and auth.conf with public keys only', () => {
    const { out, r } = fresh();
    expect(readdirSync(out).sort()).toEqual(['admin.nk', 'auth.conf', 'host-host-a.nk', 'host-host-b.nk', 'operator.nk', 'reader.nk', 'redis-passwords', 'redis-users.acl', 'scs.nk']);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(out).filter((f) => f.endsWith('.nk') || f === 'redis-passwords')) expect(statSync(join(out, f)).mode & 0o777).toBe(0o600);
    const auth = readFileSync(join(out, 'auth.conf'), 'utf8');
    for (const i of r.identities) {
      const seed = readFileSync(i.seedFile, 'utf8').trim();
      expect(seed).toMatch(/^SU[A-Z2-7]+$/);
      expect(fromSeed(new TextEncoder().encode(seed)).getPublicKey()).toBe(i.publicKey);
      expect(readNkeySeed(i.seedFile, () => expect.fail('no warning for a 0600 file')).publicKey).toBe(i.publicKey);
      expect(auth).toContain(`nkey: "${i.publicKey}"`);
      expect(auth).not.toContain(seed);
      expect(auth).not.toContain(seed.slice(2, 20));
    }
    expect(auth).not.toMatch(/"S[UO][A-Z2-7]{20,}/);
    expect(auth).toMatch(/^authorization \{\n {2}users = \[/m);
    expect(auth).not.toMatch(/no_auth_user/);
  });

  it('gives each identity its DESIGN 3b permissions', () => {
    const { r } = fresh();
    const perms = (name: string) => {
      const i = r.identities.find((x) => x.name === name);
      if (!i) throw new Error(`no identity ${name}`);
      return { ...i.permissions, inbox: `${inboxPrefix(i.publicKey)}.>` };
    };
    const a = perms('host-host-a');
    expect(a.publish).toEqual(expect.arrayContaining(['ha.hb.host-a', 'ha.evt.host.host-a.>', '$JS.API.CONSUMER.CREATE.HA_COMMANDS.lca-host-a.ha.cmd.host-a.>', '$JS.ACK.HA_COMMANDS.lca-host-a.>']));
    expect(a.publish.filter((s) => !s.startsWith('$JS.'))).toEqual(['ha.hb.host-a', 'ha.evt.host.host-a.>']);
    expect(a.publish.some((s) => s.includes('host-b'))).toBe(false);
    expect(a.publish.filter((s) => /STREAM\.(CREATE|UPDATE|DELETE|PURGE)|MSG\.DELETE|\$KV/.test(s))).toEqual([]);
    expect(a.subscribe).toEqual([a.inbox]);
    expect(a.allowResponses).toBe(false);

    const scs = perms('scs');
    expect(scs.publish.filter((s) => !s.startsWith('$JS.'))).toEqual(['ha.evt.scs.>', 'ha.cmd.>', 'ha.dec.>', 'ha.sw.>', 'ha.scs.hb.>', '$KV.ha_primaries.>']);
    expect(scs.publish).toEqual(expect.arrayContaining(['$JS.API.STREAM.CREATE.HA_EVENTS', '$JS.API.STREAM.CREATE.KV_ha_primaries']));
    expect(scs.publish.filter((s) => /STREAM\.(UPDATE|DELETE|PURGE)|MSG\.DELETE|HA_COMMANDS\.|\.>$/.test(s) && s.startsWith('$JS.API.STREAM'))).toEqual([]);
    expect(scs.publish.some((s) => s.startsWith('$JS.API.CONSUMER.CREATE.HA_COMMANDS'))).toBe(false);
    expect(scs.subscribe).toEqual(['ha.>', scs.inbox]);
    expect(scs.allowResponses).toBe(true);

    const op = perms('operator');
    expect(op.publish.filter((s) => !s.startsWith('$JS.'))).toEqual(['ha.evt.op.>', 'ha.api.status', 'ha.api.status.*']);
    expect(op.publish.some((s) => s.includes('HA_COMMANDS') || s.includes('HA_HEARTBEATS'))).toBe(false);
    expect(op.subscribe).toEqual(['ha.switchover.>', 'ha.dec.>', op.inbox]);

    const rd = perms('reader');
    expect(rd.publish.filter((s) => !s.startsWith('$JS.'))).toEqual(['ha.api.status', 'ha.api.status.*']);
    expect(rd.publish.filter((s) => s.startsWith('$JS.') && !s.includes('KV_ha_primaries'))).toEqual(['$JS.API.INFO']);
    expect(rd.subscribe).toEqual(['ha.switchover.>', rd.inbox]);

    const admin = perms('admin');
    expect([admin.publish, admin.subscribe]).toEqual([['>'], ['>']]);

    for (const p of [a, scs, op, rd]) expect(p.subscribe.some((s) => s === '>' || s === '_INBOX.>')).toBe(false);
  });

  it('writes a Redis ACL with the default user off and the scs user held to the lease key and its commands', () => {
    const { out } = fresh();
    const acl = readFileSync(join(out, 'redis-users.acl'), 'utf8').trim().split('\n');
    expect(acl[0]).toBe('user default off');
    const scs = acl.find((l) => l.startsWith('user scs '));
    expect(scs).toContain(`~${leaseKey('demo')}`);
    expect(scs).toMatch(/resetkeys ~ha:demo:scs:leader resetchannels -@all \+set \+get \+pexpire \+pttl \+del \+eval \+evalsha \+info \+ping$/);
    const pw = readFileSync(join(out, 'redis-passwords'), 'utf8');
    const scsPw = /^scs (\S+)$/m.exec(pw)?.[1];
    expect(scsPw).toBeDefined();
    expect(acl.join('\n')).not.toContain(scsPw);
  });

  it('refuses to replace existing identities unless forced', () => {
    const { out, r } = fresh();
    const before = readFileSync(r.identities[0]!.seedFile, 'utf8');
    expect(() => secureInit(config, out, 'fresh')).toThrow(SecureInitError);
    expect(readFileSync(r.identities[0]!.seedFile, 'utf8')).toBe(before);
    writeFileSync(join(out, 'scs.nk'), 'x', { mode: 0o644 });
    const again = secureInit(config, out, 'force');
    expect(readFileSync(again.identities[0]!.seedFile, 'utf8')).not.toBe(before);
    expect(statSync(join(out, 'scs.nk')).mode & 0o777).toBe(0o600);
  });

  it('agrees with docs/security.md, subject by subject', () => {
    const doc = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/security.md'), 'utf8');
    const block = /<!-- permissions:begin -->\n([\s\S]*?)\n<!-- permissions:end -->/.exec(doc)?.[1];
    expect(block).toBe(describePermissions());
  });

  it('--add keeps every existing identity and makes those of new hosts', () => {
    const { out, r } = fresh();
    const seeds = Object.fromEntries(r.identities.map((i) => [i.name, readFileSync(i.seedFile, 'utf8')]));
    const pw = readFileSync(join(out, 'redis-passwords'), 'utf8');
    const grown = secureInit({ ...config, hosts: [...config.hosts, { id: 'host-c' }] }, out, 'add');
    for (const i of r.identities) {
      expect(readFileSync(i.seedFile, 'utf8')).toBe(seeds[i.name]);
      expect(grown.identities.find((g) => g.name === i.name)?.publicKey).toBe(i.publicKey);
    }
    const c = grown.identities.find((g) => g.name === 'host-host-c');
    expect(c?.publicKey).toMatch(/^U/);
    expect(statSync(c!.seedFile).mode & 0o777).toBe(0o600);
    const auth = readFileSync(join(out, 'auth.conf'), 'utf8');
    for (const g of grown.identities) expect(auth).toContain(`nkey: "${g.publicKey}"`);
    expect(readFileSync(join(out, 'redis-passwords'), 'utf8')).toBe(pw);
  });
});
