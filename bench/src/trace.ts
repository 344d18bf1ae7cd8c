// The path of one failover on the bus: SIGKILL of a primary, then every message on `ha.>` until the
// announcement, each with the time it was seen (ms after the kill). Shows where the milliseconds go.
//   node bench/dist/trace.js [--trials N]
import { Cluster } from '@ha/test';
import { row, summarize } from './stats.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};

const main = async (): Promise<void> => {
  if (process.argv.includes('--help')) {
    process.stdout.write('usage: node bench/dist/trace.js [--trials N]\n\nKills the primary of a pair N times (default 20) and prints, per hop of the failover, when its message was seen on the bus (ms after the kill): p50/p95/max.\n');
    return;
  }
  const trials = arg('trials', 20);
  const c = await Cluster.start({
    hosts: ['host-a', 'host-b'],
    pairs: [{ primary: 'p', backup: 'pb', primaryHost: 'host-a', backupHost: 'host-b' }],
    restart: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  const hops = new Map<string, number[]>();
  try {
    for (let i = 0; i < trials; i++) {
      const s = await c.waitStatus('pair ok', (st) => (st.pairs[0]?.state === 'ok' && st.applications.every((a) => a.status === 'started') ? st : undefined));
      await new Promise((r) => setTimeout(r, 150));
      const killed = s.pairs[0]!.current!;
      const other = killed === 'p' ? 'pb' : 'p';
      const pid = c.app(s, killed).pid!;
      const seen: { subject: string; t: bigint; type: string }[] = [];
      const sub = c.nc.subscribe('ha.>', {
        callback: (_e, m) => {
          if (m.subject.startsWith('ha.hb.') || m.subject.startsWith('ha.scs.hb') || m.subject.startsWith('$')) return;
          let type = '';
          try { const d = m.json<{ type?: string; kind?: string; effect?: { kind?: string } }>(); type = d.type ?? d.effect?.kind ?? ''; } catch { /* not json */ }
          seen.push({ subject: m.subject, t: process.hrtime.bigint(), type });
        },
      });
      await c.nc.flush();
      const sw = c.nextSwitchover('p');
      const t0 = process.hrtime.bigint();
      process.kill(pid, 'SIGKILL');
      await sw;
      await new Promise((r) => setTimeout(r, 50));
      sub.unsubscribe();
      const counted = new Set<string>();
      for (const m of seen) {
        // the pair's members swap roles every trial: name them by what they are in this one
        const subject = m.subject.replace(/^(ha\.(evt\.host|cmd)\.)[^.]+/, '$1*').replace(new RegExp(`\\.${killed}$`), '.<killed>').replace(new RegExp(`\\.${other}$`), '.<backup>');
        const key = `${subject} ${m.type}`.trim();
        if (counted.has(key)) continue;
        counted.add(key);
        hops.set(key, [...(hops.get(key) ?? []), Number(m.t - t0) / 1e6]);
      }
    }
  } finally {
    await c.stop();
  }
  const rows = [...hops].map(([k, v]) => ({ k, s: summarize(v) })).sort((a, b) => a.s.p50 - b.s.p50);
  for (const { k, s } of rows) process.stdout.write(row(k, s) + '\n');
};

main().catch((e: unknown) => {
  process.stderr.write(`trace: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
