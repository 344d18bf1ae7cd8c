// `npm run demo`: a whole cluster on this machine, natively: its own nats-server and redis-server on
// free ports, two SCS, three hosts (one LCA each), two warm pairs of counter-servers (SDK). Secure by
// default: identities are generated into the demo's directory and every process uses its own.
import { join, resolve } from 'node:path';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { AnnouncementSchema } from '@ha/events';
import { BIN, Cluster } from './cluster.js';
import { demoSpec } from './demoSpec.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = join(ROOT, 'examples/counter-server/dist/main.js');

const main = async (): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-demo-'));
  process.stdout.write(`starting nats-server, redis-server, 2 SCS and 3 LCAs (logs in ${dir}) ...\n`);
  const c = await Cluster.start({ ...demoSpec(SERVER, dir), secure: true });
  const s = await c.status();
  const pidOf = (id: string) => s.applications.find((a) => a.id === id)?.pid ?? '?';
  const hactl = `HA_NATS_URL=${c.nats.url} HA_NATS_NKEY=${c.seedFile('operator')} node ${BIN.hactl}`;
  process.stdout.write(`
The demo cluster is up: hosts host-a, host-b, host-c; pairs web-a/web-b and api-b/api-c.
  NATS   ${c.nats.url}
  Redis  ${c.redis.url}   (ACL from redis-users.acl: default user off, the SCS logs in as scs)
  SCS    ${[...c.http.entries()].map(([id, h]) => `${id}: http://${h}/status`).join('   ')}
  config ${c.configPath}
  identities on: hactl secure init wrote ${join(dir, 'identities')} (auth.conf included by nats-server,
         one nkey seed per host, scs, operator, reader, admin); every process connects with its own
         --nkey and anonymous clients are refused. hactl below runs as the operator.

Watch it:
  ${hactl} status            (or: npx hactl status, with HA_NATS_URL and HA_NATS_NKEY set as shown)
  ${hactl} status --json
Use the service (counter-server: writes go to the primary, the backup refuses them):
  curl -X POST http://${c.endpoint('web-a')}/incr        curl -X POST http://${c.endpoint('web-b')}/incr   (409: backup)
Cause a failover (SIGKILL the primary web-a, pid ${pidOf('web-a')}), or hang it (SIGSTOP):
  kill -9 ${pidOf('web-a')}
Service Unavailable on the primary, and back:   curl -X POST http://${c.endpoint('web-a')}/ha/unavailable   (then /ha/available)
Manual switchover, pause and resume:
  ${hactl} switchover api-b      ${hactl} pause api-b      ${hactl} resume api-b
Drain a host (its primaries move first):   kill -TERM ${c.lcas.get('host-c')?.pid}   (the LCA of host-c)
Lose a whole host (SIGSTOP the LCA of host-b, pid ${c.lcas.get('host-b')?.pid}, and its applications), then bring it back:
  kill -STOP ${c.lcas.get('host-b')?.pid} ${pidOf('api-b')} ${pidOf('web-b')}   ...   kill -CONT ${c.lcas.get('host-b')?.pid} ${pidOf('api-b')} ${pidOf('web-b')}
Kill the active SCS (${s.scs.active}, pid ${c.scs.get(s.scs.active ?? '')?.pid}): the other one takes over.

Switchovers are printed below as they are announced on ha.switchover.>. Ctrl-C stops everything.
`);
  c.nc.subscribe('ha.switchover.>', {
    callback: (_e, m) => {
      const a = AnnouncementSchema.safeParse(JSON.parse(m.string()));
      if (a.success) process.stdout.write(`${a.data.at}  switchover ${a.data.pair}: ${a.data.from.app}@${a.data.from.host} -> ${a.data.to.app}@${a.data.to.host} (${a.data.reason}, epoch ${a.data.epoch})\n`);
    },
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping the demo cluster ...\n');
    await c.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
};

main().catch((e: unknown) => {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exit(1);
});
