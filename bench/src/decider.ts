// Decider throughput, pure and in-process: inputs/s with N hosts (10 applications each, in pairs
// across neighbouring hosts) in its state. `node bench/dist/decider.js [--hosts N] [--inputs M]`
import { validateConfig, type Input, type Recorded } from '@ha/events';
import { initialState, transition, DECIDER_VERSION, type State } from '@ha/scs';

export type DeciderBench = {
  hosts: number;
  apps: number;
  inputs: number;
  seconds: number;
  /** Over the measured `inputs`, which follow as many of the same stream, untimed (warm-up). */
  inputsPerSecond: number;
  /** Over the warm-up: JIT compilation and the collection of the setup's garbage fall in it. */
  coldInputsPerSecond: number;
  setupSeconds: number;
};

const cluster = (hosts: number) => {
  const ids = Array.from({ length: hosts }, (_, i) => `h${i}`);
  const applications = [];
  for (let i = 0; i < hosts; i++) {
    for (let k = 0; k < 5; k++) {
      const backupHost = ids[(i + 1) % hosts] as string;
      applications.push({ id: `p${i}x${k}`, host: ids[i], command: ['x'], endpoint: `10.0.0.1:${k}`, redundancy: { backup: `b${i}x${k}` } });
      applications.push({ id: `b${i}x${k}`, host: backupHost, command: ['x'], endpoint: `10.0.0.2:${k}` });
    }
  }
  const r = validateConfig({ cluster: 'bench', hosts: ids.map((id) => ({ id })), applications });
  if (!r.ok) throw new Error(r.errors.slice(0, 3).join('; '));
  return r.config;
};

export const benchDecider = (hosts: number, inputs: number): DeciderBench => {
  const t0 = process.hrtime.bigint();
  const config = cluster(hosts);
  let seq = 0;
  let at = 1_700_000_000_000;
  let state: State = initialState();
  const feed = (input: Input): void => {
    const rec: Recorded<Input> = { seq: ++seq, at: (at += 1), input };
    state = transition(state, rec).state;
  };
  feed({ type: 'ScsClaimed', v: 1, scs: 'bench', deciderVersion: DECIDER_VERSION });
  feed({ type: 'ConfigApplied', v: 1, epoch: 1, scs: 'bench', config });
  const lca = new Map<string, { inc: number; n: number }>();
  for (const h of config.hosts) {
    feed({ type: 'LcaStarted', v: 1, host: h.id, lca: 0, n: 0, pid: 1, bootId: h.id, ended: [] });
    lca.set(h.id, { inc: seq, n: 0 });
  }
  const incarnation = new Map<string, number>();
  for (const a of config.applications) {
    const l = lca.get(a.host)!;
    feed({ type: 'AppStarted', v: 1, host: a.host, lca: l.inc, n: ++l.n, app: a.id, pid: 1, role: 'backup', command: null, status: 'started' });
    incarnation.set(a.id, seq);
  }
  const setup = Number(process.hrtime.bigint() - t0) / 1e9;
  // the measured stream: a steady trickle of status reports on backups (the common case); what the
  // bench needs per application is looked up before the clock starts, so that its own look-ups
  // (two more cold hash probes per input) are not counted as the decider's
  const apps = config.applications.filter((a) => !a.redundancy).map((a) => ({ app: a.id, host: a.host, l: lca.get(a.host)!, incarnation: incarnation.get(a.id)! }));
  let i = 0;
  const window = (n: number): number => {
    const t = process.hrtime.bigint();
    for (const end = i + n; i < end; i++) {
      const a = apps[i % apps.length]!;
      feed({ type: 'AppStatusChanged', v: 1, host: a.host, lca: a.l.inc, n: ++a.l.n, app: a.app, incarnation: a.incarnation, status: i % 2 === 0 ? 'service-unavailable' : 'started', detail: null });
    }
    return Number(process.hrtime.bigint() - t) / 1e9;
  };
  // a steady rate, as a benchmark harness measures after its warm-up iterations: the first window
  // carries the JIT's work and the major collection of the setup's garbage (reported apart)
  const cold = window(inputs);
  const seconds = window(inputs);
  return { hosts, apps: config.applications.length, inputs, seconds, inputsPerSecond: Math.round(inputs / seconds), coldInputsPerSecond: Math.round(inputs / cold), setupSeconds: Math.round(setup * 100) / 100 };
};

if (process.argv[1]?.endsWith('decider.js')) {
  if (process.argv.includes('--help')) {
    process.stdout.write('usage: node bench/dist/decider.js [--hosts N] [--inputs M]\n\nPure decider throughput in-process: inputs/s with N hosts (default 1000; 10 applications each) in its state, fed M status reports (default 20000) after M more of the same as a warm-up (reported as coldInputsPerSecond).\n');
    process.exit(0);
  }
  const arg = (n: string, d: number) => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
  const r = benchDecider(arg('hosts', 1000), arg('inputs', 20000));
  process.stdout.write(JSON.stringify(r) + '\n');
}
