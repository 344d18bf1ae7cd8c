// Records a golden log: a real cluster, real faults, then HA_EVENTS and HA_DECISIONS as JSON lines.
//   node test/dist/golden.js [out.jsonl]      (npm run golden:record writes test/fixtures/golden-faults.jsonl)
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DECISIONS_STREAM, EVENTS_STREAM } from '@ha/events';
import { Cluster } from './cluster.js';
import { until } from './ports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export type GoldenLine =
  | { t: 'event'; seq: number; at: number; subject: string; data: string }
  | { t: 'decision'; seq: number; epoch: number; causeSeq: number; index: number; effect: Record<string, unknown> };

const readAll = async (nc: NatsConnection, stream: string): Promise<{ seq: number; at: number; subject: string; data: string }[]> => {
  const jsm = await jetstreamManager(nc);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  const out: { seq: number; at: number; subject: string; data: string }[] = [];
  if (last === 0) return out;
  const msgs = await (await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All })).consume();
  for await (const m of msgs) {
    out.push({ seq: m.seq, at: Number(m.timestampNanos / 1_000_000n), subject: m.subject, data: m.string() });
    if (m.seq >= last) break;
  }
  await msgs.close();
  return out;
};

export const dumpLog = async (nc: NatsConnection): Promise<GoldenLine[]> => {
  const events = await readAll(nc, EVENTS_STREAM);
  const decisions = await readAll(nc, DECISIONS_STREAM);
  return [
    ...events.map((e) => ({ t: 'event' as const, ...e })),
    ...decisions.map((d) => {
      const r = JSON.parse(d.data) as { epoch: number; causeSeq: number; index: number; effect: Record<string, unknown> };
      return { t: 'decision' as const, seq: d.seq, epoch: r.epoch, causeSeq: r.causeSeq, index: r.index, effect: r.effect };
    }),
  ];
};

const progress = (s: string) => process.stderr.write(`golden: ${s}\n`);

const main = async (): Promise<void> => {
  const out = process.argv[2] ?? join(ROOT, 'test/fixtures/golden-faults.jsonl');
  const c = await Cluster.start({
    hosts: ['host-a', 'host-b', 'host-c'],
    pairs: [
      { primary: 'p1', backup: 'p1b', primaryHost: 'host-a', backupHost: 'host-b' },
      { primary: 'p2', backup: 'p2b', primaryHost: 'host-b', backupHost: 'host-c' },
    ],
  });
  try {
    progress('SIGKILL the primary p1');
    let s = await c.status();
    let sw = c.nextSwitchover('p1');
    process.kill(c.app(s, 'p1').pid!, 'SIGKILL');
    await sw;
    await c.waitStatus('p1 restarted', (st) => c.app(st, 'p1').status === 'started');

    progress('SIGKILL the LCA of host-b with its applications');
    s = await c.status();
    const both = [c.nextSwitchover('p1'), c.nextSwitchover('p2')];
    c.lcas.get('host-b')!.signal('SIGKILL');
    for (const a of s.applications.filter((x) => x.host === 'host-b')) process.kill(a.pid!, 'SIGKILL');
    await Promise.all(both);
    c.startLca('host-b');
    await c.waitStatus('host-b back', (st) => st.hosts.every((h) => h.lca === 'up') && st.applications.every((a) => a.status === 'started'));

    progress('SIGKILL the active SCS, then a primary under the new epoch');
    s = await c.status();
    c.scs.get(s.scs.active!)!.signal('SIGKILL');
    const next = await c.waitStatus('new active SCS', (st) => (st.scs.active !== s.scs.active && st.scs.acting ? st : undefined));
    sw = c.nextSwitchover('p2');
    process.kill(c.app(next, next.pairs.find((p) => p.id === 'p2')!.current!).pid!, 'SIGKILL');
    await sw;

    progress('SIGSTOP host-c with its applications, then SIGCONT');
    await c.waitStatus('all started', (st) => st.applications.every((a) => a.status === 'started'));
    s = await c.status();
    const lcaC = c.lcas.get('host-c')!;
    const pidsC = s.applications.filter((a) => a.host === 'host-c').map((a) => a.pid!);
    const lostSeen = c.waitStatus('host-c lost', (st) => st.hosts.find((h) => h.id === 'host-c')?.lca === 'lost');
    lcaC.signal('SIGSTOP');
    for (const p of pidsC) process.kill(p, 'SIGSTOP');
    await lostSeen;
    for (const p of pidsC) process.kill(p, 'SIGCONT');
    lcaC.signal('SIGCONT');
    await c.waitStatus('host-c back', (st) => st.hosts.every((h) => h.lca === 'up') && st.applications.every((a) => a.status === 'started' && (a.role !== 'primary' || st.pairs.some((p) => p.current === a.id))));

    // decision records are published without waiting: let the stream settle
    const jsm = await jetstreamManager(c.nc);
    let last = -1;
    await until('HA_DECISIONS settled', async () => {
      const n = (await jsm.streams.info(DECISIONS_STREAM)).state.last_seq;
      const same = n === last;
      last = n;
      return same;
    }, 10_000, 300);
    const lines = await dumpLog(c.nc);
    writeFileSync(out, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    progress(`wrote ${lines.length} lines to ${out}`);
  } finally {
    await c.stop();
  }
};

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((e: unknown) => {
    process.stderr.write(`golden: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
