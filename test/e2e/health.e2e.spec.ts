import { readFileSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, Cluster, TcpProxy, until, type ClusterSpec } from '@ha/test';
import { stopChecked } from './invariants.js';

// Issue 3 end to end: SDK applications (examples/counter-server) and probes, every component a process.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COUNTER = join(ROOT, 'examples/counter-server/dist/main.js');

const sdkSpec = (over: Partial<ClusterSpec> = {}): ClusterSpec => ({
  hosts: ['host-a', 'host-b'],
  pairs: [{ primary: 'c1', backup: 'c1b', primaryHost: 'host-a', backupHost: 'host-b' }],
  command: ['node', COUNTER, '--port', '{port}', '--record', '{dir}/rec-{id}.jsonl'],
  app: () => ({ probe: { kind: 'sdk' } }),
  ...over,
});

type Rec = { app: string; pid: number; event: 'role' | 'fenced' | 'unfenced'; role?: string; monoNs: string };
const records = (c: Cluster, app: string): Rec[] => {
  const f = join(c.dir, `rec-${app}.jsonl`);
  return existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec) : [];
};
const post = async (endpoint: string, path: string): Promise<number> => (await fetch(`http://${endpoint}${path}`, { method: 'POST' })).status;
const endpointOf = (c: Cluster, app: string): string => c.endpoint(app);

describe('application health and self-fencing (SDK)', () => {
  let c: Cluster | undefined;
  let proxy: TcpProxy | undefined;
  afterEach(async () => {
    const [cluster, p] = [c, proxy];
    c = undefined;
    proxy = undefined;
    try {
      await stopChecked(cluster);
    } finally {
      await p?.stop();
    }
  });

  it('a hung primary (SIGSTOP of the application) is killed, reaped, reported hung and switched over', async () => {
    c = await Cluster.start(sdkSpec());
    const s = await c.status();
    const pid = c.app(s, 'c1').pid!;
    const sw = c.nextSwitchover('c1');
    process.kill(pid, 'SIGSTOP');
    const a = await sw;
    expect(a).toMatchObject({ reason: 'hung', to: { app: 'c1b' } });
    expect(alive(pid)).toBe(false);
    const cause = (await c.events()).find((e) => e.seq === a.causeSeq);
    expect(cause?.data).toMatchObject({ type: 'AppExited', app: 'c1', pid, cause: 'hung' });
  });

  it('a busy loop inside the primary is a hang too', async () => {
    c = await Cluster.start(sdkSpec());
    const sw = c.nextSwitchover('c1');
    void post(endpointOf(c, 'c1'), '/ha/test/busy').catch(() => undefined);
    expect(await sw).toMatchObject({ reason: 'hung', to: { app: 'c1b' } });
  });

  it('Service Unavailable on the primary: demoted and confirmed, then the backup promoted; nothing restarted', async () => {
    c = await Cluster.start(sdkSpec());
    const before = await c.status();
    const sw = c.nextSwitchover('c1');
    expect(await post(endpointOf(c, 'c1'), '/ha/unavailable')).toBe(200);
    const a = await sw;
    expect(a).toMatchObject({ reason: 'service-unavailable', from: { app: 'c1' }, to: { app: 'c1b' } });
    const events = await c.events();
    const demoted = events.find((e) => e.data['type'] === 'AppRoleChanged' && e.data['app'] === 'c1' && e.data['role'] === 'backup');
    const promoted = events.find((e) => e.data['type'] === 'AppRoleChanged' && e.data['app'] === 'c1b' && e.data['role'] === 'primary');
    expect(demoted!.seq).toBeLessThan(promoted!.seq);
    const s = await c.status();
    expect(s.applications.map((x) => x.pid)).toEqual(before.applications.map((x) => x.pid));
    expect(await post(endpointOf(c, 'c1b'), '/incr')).toBe(200); // the new primary serves writes
    expect(await post(endpointOf(c, 'c1'), '/incr')).toBe(409); // the old one refuses them
  });

  it('both unavailable: no switchover; the backup reports started again: switchover to it', async () => {
    c = await Cluster.start(sdkSpec());
    await post(endpointOf(c, 'c1b'), '/ha/unavailable');
    await c.waitStatus('backup unavailable', (s) => c!.app(s, 'c1b').status === 'service-unavailable');
    await post(endpointOf(c, 'c1'), '/ha/unavailable');
    const s = await c.waitStatus('primary unavailable too', (st) => (c!.app(st, 'c1').status === 'service-unavailable' ? st : undefined));
    expect(s.pairs[0]).toMatchObject({ current: 'c1', state: 'degraded' });
    const sw = c.nextSwitchover('c1');
    await post(endpointOf(c, 'c1b'), '/ha/available');
    expect(await sw).toMatchObject({ reason: 'service-unavailable', to: { app: 'c1b' } });
  });

  it('self-fencing when only the LCA is SIGSTOPped: the old primary fences itself before the backup is promoted', async () => {
    c = await Cluster.start(sdkSpec());
    const sw = c.nextSwitchover('c1');
    c.lcas.get('host-a')!.signal('SIGSTOP');
    const a = await sw;
    expect(a.reason).toBe('host-lost');
    const fenced = await until('c1 recorded its fence', () => records(c!, 'c1').find((r) => r.event === 'fenced'));
    const promoted = records(c, 'c1b').find((r) => r.event === 'role' && r.role === 'primary');
    expect(BigInt(fenced.monoNs)).toBeLessThan(BigInt(promoted!.monoNs));
    c.lcas.get('host-a')!.signal('SIGCONT');
    await c.waitStatus('host-a back, c1 backup', (s) => s.hosts.every((h) => h.lca === 'up') && c!.app(s, 'c1').role === 'backup');
  });

  it('self-fencing when only the LCA is cut off from NATS (a TCP proxy): fence before promotion', async () => {
    c = await Cluster.start(sdkSpec(), {
      prepare: async (cl) => {
        proxy = await TcpProxy.start(cl.nats.port);
        cl.lcaUrls.set('host-a', proxy.url);
      },
    });
    const sw = c.nextSwitchover('c1');
    proxy!.cut();
    const a = await sw;
    expect(a.reason).toBe('host-lost');
    const fenced = await until('c1 recorded its fence', () => records(c!, 'c1').find((r) => r.event === 'fenced'));
    const promoted = records(c, 'c1b').find((r) => r.event === 'role' && r.role === 'primary');
    expect(BigInt(fenced.monoNs)).toBeLessThan(BigInt(promoted!.monoNs));
    proxy!.restore();
    await c.waitStatus('host-a back, c1 backup', (s) => s.hosts.every((h) => h.lca === 'up') && c!.app(s, 'c1').role === 'backup', 30_000);
  });

  it('keep-serving: the backup refuses promotion while its primary answers primary; promoted once the primary is killed', async () => {
    c = await Cluster.start(sdkSpec({ redundancy: { whenAgentLost: 'keep-serving' } }));
    const s = await c.status();
    const primaryPid = c.app(s, 'c1').pid!;
    c.lcas.get('host-a')!.signal('SIGKILL'); // the SDK primary survives its LCA and keeps serving
    const refused = await c.waitStatus('refusal shown', (st) => (st.pairs[0]?.lastRefusal?.includes('peer') ? st : undefined));
    expect(refused.pairs[0]?.current).toBeNull();
    expect(alive(primaryPid)).toBe(true);
    expect(await post(endpointOf(c, 'c1'), '/incr')).toBe(200); // still serving
    const events = await c.events();
    expect(events.some((e) => e.data['type'] === 'CommandRefused' && e.data['kind'] === 'peer-check')).toBe(true);
    const sw = c.nextSwitchover('c1');
    process.kill(primaryPid, 'SIGKILL');
    expect(await sw).toMatchObject({ to: { app: 'c1b' }, reason: 'host-lost' });
  });

  it('drain: SIGTERM to an LCA switches its primaries over first, then stops; the host is drained, not lost', async () => {
    c = await Cluster.start(sdkSpec());
    const lca = c.lcas.get('host-a')!;
    const sw = c.nextSwitchover('c1');
    lca.signal('SIGTERM');
    expect(await sw).toMatchObject({ to: { app: 'c1b' }, reason: 'manual' });
    expect((await lca.exited).code).toBe(0);
    const s = await c.waitStatus('host-a drained', (st) => (st.hosts.find((h) => h.id === 'host-a')?.lca === 'drained' ? st : undefined));
    expect(c.app(s, 'c1').status).not.toBe('started');
    expect((await c.events()).some((e) => e.data['type'] === 'HostLost' && e.data['host'] === 'host-a')).toBe(false);
  });
});

describe('probes for applications without the SDK', () => {
  let c: Cluster | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });
  // A plain HTTP server that can be broken from outside: POST /break makes it answer 500 and drop TCP.
  const SERVER = `const http=require('http');let broken=false;const s=http.createServer((q,r)=>{if(q.method==='POST'&&q.url==='/break'){broken=true;r.end('ok');s.close();return;}r.statusCode=broken?500:200;r.end();});s.listen(Number(process.argv[1]),'127.0.0.1');`;
  for (const kind of ['tcp', 'http', 'exec'] as const) {
    it(`a failing ${kind} probe fails the primary (probe-failed) and switches over`, async () => {
      const probe = kind === 'exec'
        // an attempt starts node: up to 1.5 s for it on a loaded machine (a probe that cannot pass
        // keeps the application starting, and the pair without a primary)
        ? { kind, intervalMs: 500, timeoutMs: 1500, failures: 3, command: ['node', '-e', `require('http').get('http://127.0.0.1:'+process.env.PROBE_PORT,r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))`] }
        : { kind, intervalMs: 100, timeoutMs: 300, failures: 3 };
      c = await Cluster.start({
        hosts: ['host-a', 'host-b'],
        pairs: [{ primary: 'w1', backup: 'w1b', primaryHost: 'host-a', backupHost: 'host-b' }],
        command: ['node', '-e', SERVER, '{port}'],
        app: (_id, port) => ({ probe, env: { PROBE_PORT: String(port) } }),
      });
      const cl = c;
      await until('w1 serving', async () => (await fetch(`http://${endpointOf(cl, 'w1')}/`)).ok); // a plain process is "started" once spawned
      const sw = c.nextSwitchover('w1');
      await post(endpointOf(c, 'w1'), '/break');
      expect(await sw).toMatchObject({ reason: 'probe-failed', to: { app: 'w1b' } });
    });
  }
});
