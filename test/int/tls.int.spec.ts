import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectOnce, natsAuthFrom } from '@ha/bus';
import { BIN, NatsServer } from '@ha/test';

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made by openssl. */
const makeCerts = (dir: string): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> => {
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ha test CA', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', f('server.key'), '-out', f('server.csr'));
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem'));
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=host-a', '-keyout', f('client.key'), '-out', f('client.csr'));
  ssl('x509', '-req', '-in', f('client.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-out', f('client.pem'));
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
};

const hactl = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; err: string }> =>
  new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN.hactl, ...args], { env: { ...process.env, ...env } });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, err }));
  });

describe('NATS over TLS (--tls-ca, --tls-cert, --tls-key, tls:// URLs)', () => {
  let certs: ReturnType<typeof makeCerts>;
  let nats: NatsServer;
  const warn = (m: string) => expect.fail(m);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ha-tls-'));
    certs = makeCerts(dir);
    // the server verifies client certificates too (verify: true)
    nats = await NatsServer.start(dir, {
      extra: `tls { cert_file: ${JSON.stringify(certs.serverCert)}, key_file: ${JSON.stringify(certs.serverKey)}, ca_file: ${JSON.stringify(certs.ca)}, verify: true, timeout: 2 }`,
    });
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('connects with the CA and a client certificate, from flags or their environment variables', async () => {
    const url = `tls://127.0.0.1:${nats.port}`;
    const auth = natsAuthFrom({ 'tls-ca': certs.ca, 'tls-cert': certs.clientCert, 'tls-key': certs.clientKey }, warn);
    const nc = await connectOnce(url, 'tls-test', auth);
    expect(nc.info?.tls_required).toBe(true);
    await nc.close();
    // hactl reaches the server (and then finds no SCS: exit 2 with that reason, not a connection error)
    const r = await hactl(['status', '--nats', url, '--timeout', '500'], { HA_NATS_TLS_CA: certs.ca, HA_NATS_TLS_CERT: certs.clientCert, HA_NATS_TLS_KEY: certs.clientKey });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no SCS answered/);
  });

  it('is refused without the CA (the server is not trusted) or without a client certificate', async () => {
    const url = `tls://127.0.0.1:${nats.port}`;
    await expect(connectOnce(url, 'tls-test', natsAuthFrom({ 'tls-cert': certs.clientCert, 'tls-key': certs.clientKey }, warn))).rejects.toThrow();
    await expect(connectOnce(url, 'tls-test', natsAuthFrom({ 'tls-ca': certs.ca }, warn))).rejects.toThrow();
    const r = await hactl(['status', '--nats', url, '--tls-ca', certs.ca]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/cannot reach NATS/);
  });

  it('names the file when a TLS file cannot be read, and wants --tls-cert with --tls-key', async () => {
    expect(() => natsAuthFrom({ 'tls-ca': '/nonexistent/ca.pem' }, warn)).toThrow(/\/nonexistent\/ca\.pem/);
    expect(() => natsAuthFrom({ 'tls-cert': certs.clientCert }, warn)).toThrow(/--tls-key/);
  });
});
