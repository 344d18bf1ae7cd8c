// Old decider against the new one on the projection bench's generated log and on the decider
// bench's log: effects after every input, the whole state every K inputs and at the end, and a few
// old states decided from again (decision 0012). Build first (npm run build).
// node bench/differential/logs.mjs OLDROOT NEWROOT HOSTS EVENTS K
import { resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
const [OLD, NEW, H, EV, K] = [resolve(process.argv[2]), resolve(process.argv[3]), +process.argv[4], +process.argv[5], +process.argv[6]];
const O = await import(`${OLD}/apps/scs/dist/decider/index.js`);
const N = await import(`${NEW}/apps/scs/dist/decider/index.js`);
const { parseInput, validateConfig } = await import(`${NEW}/libs/events/dist/index.js`);
const { generateLog } = await import(`${NEW}/bench/dist/projection.js`);
const plain = (s, isNew) => {
  const apps = [];
  for (const [k, a] of s.apps.entries()) {
    if (isNew) { const { pair, pairIndex, ...rest } = a; if (pair !== (s.pairOfApp.get(k) ?? null) || pairIndex !== (pair === null ? null : s.pairs.indexOf(pair))) throw new Error('pair of ' + k); apps.push([k, rest]); } else apps.push([k, a]);
  }
  const m = (pm) => [...pm.entries()];
  return { epoch: s.epoch, active: s.active, deciderVersion: s.deciderVersion, config: s.config, configSeq: s.configSeq, lastSeq: s.lastSeq, counts: s.counts, hosts: m(s.hosts), apps, pairs: m(s.pairs), timers: m(s.timers), pairOfApp: [...s.pairOfApp.entries()],
    index: { appsOfHost: m(s.index.appsOfHost), appOrder: m(s.index.appOrder), nextAppOrder: s.index.nextAppOrder, timersOf: m(s.index.timersOf), unsettled: [...s.index.unsettled.keys()] } };
};
const run = (name, inputs) => {
  let so = O.initialState(), sn = N.initialState(), effects = 0, diffs = 0, states = 0, redecided = 0;
  const held = [];
  const at0 = 1_700_000_000_000;
  for (let i = 0; i < inputs.length; i++) {
    const rec = { seq: i + 1, at: at0 + i * 2, input: inputs[i] };
    const to = O.transition(so, rec), tn = N.transition(sn, rec);
    effects += tn.effects.length;
    if (!isDeepStrictEqual(to.effects, tn.effects)) { diffs++; if (diffs < 3) console.error('effects differ at', i, rec.input.type); }
    so = to.state; sn = tn.state;
    if ((i + 1) % K === 0 || i === inputs.length - 1) { states++; if (!isDeepStrictEqual(plain(so, false), plain(sn, true))) { diffs++; console.error('state differs at', i); } }
    if ((i + 1) % Math.floor(K / 2) === 0) held.push([so, sn, i]);
  }
  // older states read again and decided from: the next input of the log again, from a state far back
  for (const [ho, hn, i] of held.slice(0, 6)) {
    const rec = { seq: i + 2, at: at0 + (i + 1) * 2, input: inputs[i + 1] ?? inputs[0] };
    const to = O.transition(ho, rec), tn = N.transition(hn, rec);
    redecided++;
    if (!isDeepStrictEqual(to.effects, tn.effects) || !isDeepStrictEqual(plain(to.state, false), plain(tn.state, true))) { diffs++; console.error('redecided differs from', i); }
  }
  if (!isDeepStrictEqual(plain(so, false), plain(sn, true))) diffs++;
  console.log(JSON.stringify({ log: name, hosts: H, inputs: inputs.length, effects, stateComparisons: states, redecidedFromOld: redecided, differences: diffs }));
};
// the projection bench's realistic log
const g = generateLog(H, EV, 1);
const inputs = [];
for (const m of g.msgs) { const p = parseInput(m.subject, m.data); if (p.ok) inputs.push(p.value); }
run('projection', inputs);
// the decider bench's log: claim, configuration, LcaStarted, AppStarted, then status reports
{
  const ids = Array.from({ length: H }, (_, i) => `h${i}`), applications = [];
  for (let i = 0; i < H; i++) for (let k = 0; k < 5; k++) { applications.push({ id: `p${i}x${k}`, host: ids[i], command: ['x'], endpoint: `10.0.0.1:${k}`, redundancy: { backup: `b${i}x${k}` } }); applications.push({ id: `b${i}x${k}`, host: ids[(i + 1) % H], command: ['x'], endpoint: `10.0.0.2:${k}` }); }
  const config = validateConfig({ cluster: 'bench', hosts: ids.map((id) => ({ id })), applications }).config;
  const log = [{ type: 'ScsClaimed', v: 1, scs: 'bench', deciderVersion: 1 }, { type: 'ConfigApplied', v: 1, epoch: 1, scs: 'bench', config }];
  const lca = new Map(); let seq = 2;
  for (const h of config.hosts) { log.push({ type: 'LcaStarted', v: 1, host: h.id, lca: 0, n: 0, pid: 1, bootId: h.id, ended: [] }); lca.set(h.id, { inc: ++seq, n: 0 }); }
  const inc = new Map();
  for (const a of config.applications) { const l = lca.get(a.host); log.push({ type: 'AppStarted', v: 1, host: a.host, lca: l.inc, n: ++l.n, app: a.id, pid: 1, role: 'backup', command: null, status: 'started' }); inc.set(a.id, ++seq); }
  const apps = config.applications.filter((a) => !a.redundancy).map((a) => ({ app: a.id, host: a.host, l: lca.get(a.host), incarnation: inc.get(a.id) }));
  for (let i = 0; i < EV; i++) { const a = apps[i % apps.length]; log.push({ type: 'AppStatusChanged', v: 1, host: a.host, lca: a.l.inc, n: ++a.l.n, app: a.app, incarnation: a.incarnation, status: i % 2 === 0 ? 'service-unavailable' : 'started', detail: null }); }
  run('decider-bench', log);
}
