// Diagnostic: does an ordered consumer on HA_HEARTBEATS (one message per subject kept) deliver every
// host's heartbeats regularly at N hosts × 1/s? Reports, per host, the longest gap between two
// deliveries (ms), as percentiles over hosts. `node bench/dist/hbfeed.js [--hosts N] [--seconds S]`
import { connect } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { ensureStreams } from '@ha/bus';
import { codec, HEARTBEATS_STREAM, parseHeartbeat, subjects } from '@ha/events';
import { NatsServer } from '@ha/test';

if (process.argv.includes('--help')) {
  process.stdout.write('usage: node bench/dist/hbfeed.js [--hosts N] [--seconds S]\n\nDiagnostic: N hosts heartbeat once a second into HA_HEARTBEATS (one message kept per host) on a\nthrow-away nats-server; an ordered consumer like the SCS\'s reads them. Prints the longest gap between\ntwo deliveries per host (percentiles over hosts), the longest publish gap and the longest delivery delay.\n');
  process.exit(0);
}
const arg = (n: string, d: number) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const hosts = arg('hosts', 10000);
const seconds = arg('seconds', 30);
const nats = await NatsServer.start();
const pub = await connect({ servers: nats.url });
const sub = await connect({ servers: nats.url, noAsyncTraces: true });
await ensureStreams(pub);
const apps = Array.from({ length: 10 }, (_, k) => ({ app: `a${k}`, pid: 1234, role: 'backup', status: 'started', incarnation: 99 }));
const last = new Float64Array(hosts);
const maxGap = new Float64Array(hosts);
let delivered = 0;
const pubAt = new Float64Array(hosts);
let maxDelay = 0;
const pubGap = new Float64Array(hosts);
const pubLast = new Float64Array(hosts);
const c = await jetstream(sub).consumers.get(HEARTBEATS_STREAM, { deliver_policy: DeliverPolicy.LastPerSubject });
const it = await c.consume();
void (async () => {
  for await (const m of it) {
    const hb = parseHeartbeat(m.data);
    if (!hb.ok) { console.error(hb.error); continue; }
    const i = Number(hb.value.host.slice(1));
    const now = performance.now();
    const delay = now - pubAt[i]!;
    if (delay > maxDelay) maxDelay = delay;
    if (last[i]! > 0) maxGap[i] = Math.max(maxGap[i]!, now - last[i]!);
    last[i] = now;
    delivered++;
  }
})();
const js = jetstream(pub);
let n = 0;
const t0 = performance.now();
const slot = 10;
let inflight = 0;
const timer = setInterval(() => {
  const k = Math.floor((performance.now() - t0) / slot);
  const per = Math.ceil(hosts / (1000 / slot));
  for (let j = 0; j < per; j++) {
    const i = (k * per + j) % hosts;
    if (inflight > 5000) continue;
    inflight++;
    n++;
    const t = performance.now();
    if (pubLast[i]! > 0) pubGap[i] = Math.max(pubGap[i]!, t - pubLast[i]!);
    pubLast[i] = t;
    pubAt[i] = t;
    const hb = { type: 'Heartbeat', v: 1, host: `h${i}`, lca: 7, n: n, pid: 1, apps };
    void js.publish(subjects.heartbeat(`h${i}`), codec.encode(hb)).catch(() => undefined).finally(() => inflight--);
  }
}, slot);
await new Promise((r) => setTimeout(r, seconds * 1000));
clearInterval(timer);
await new Promise((r) => setTimeout(r, 500));
const g = [...maxGap].sort((a, b) => a - b);
const q = (p: number) => Math.round(g[Math.min(g.length - 1, Math.floor(p * g.length))]!);
console.log(JSON.stringify({ hosts, seconds, published: n, delivered, perSecond: Math.round(delivered / seconds), maxGapMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) }, over3s: g.filter((x) => x > 3000).length, maxPublishGapMs: Math.round(Math.max(...pubGap)), maxDeliveryDelayMs: Math.round(maxDelay) }));
clearInterval(timer);
await it.close();
await pub.close();
await sub.close();
await nats.stop();
