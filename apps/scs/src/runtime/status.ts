import type { StatusDoc } from '@ha/events';
import { pairView, type State } from '../decider/index.js';
import type { LastHeartbeat } from '../detector/detector.js';

/** The contract's status document, from the projected state and the heartbeats seen. */
export const statusDoc = (
  s: State,
  heartbeats: ReadonlyMap<string, LastHeartbeat>,
  answeredBy: string,
  acting: boolean,
  freshness: Readonly<{ caughtUp: boolean; logLastSeq: number | null }>,
): StatusDoc => ({
  scs: { active: s.active, epoch: s.epoch, answeredBy, lastSeq: s.lastSeq, acting, caughtUp: freshness.caughtUp, logLastSeq: freshness.logLastSeq },
  cluster: s.config?.cluster ?? null,
  hosts: [...s.hosts.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((h) => {
      const hb = heartbeats.get(h.id);
      return { id: h.id, lca: h.lca === 'up' ? 'up' : h.lca === 'drained' ? 'drained' : 'lost', draining: h.draining, lastHeartbeatAt: hb ? new Date(hb.at).toISOString() : null, incarnation: h.incarnation };
    }),
  applications: [...s.apps.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((a) => {
      const lost = s.hosts.get(a.host)?.lca !== 'up';
      return {
        id: a.id,
        host: a.host,
        status: lost ? 'unknown' : a.status,
        role: lost ? 'none' : a.role,
        pid: lost ? null : a.pid,
        restarts: a.restarts,
        incarnation: a.incarnation,
        gaveUp: a.gaveUp,
        fenced: a.fenced,
      };
    }),
  pairs: [...s.pairs.values()]
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((p) => ({
      id: p.id,
      primary: p.primary,
      backup: p.backup,
      type: p.type,
      autoSwitchover: p.autoSwitchover,
      current: p.current,
      state: pairView(p, s),
      lastRefusal: p.lastRefusal,
      lastFailure: p.failure,
      paused: p.paused,
    })),
});

type Counted = { shown: number; total: number };

const bytes = (x: unknown): number => Buffer.byteLength(JSON.stringify(x));

/** What needs attention first, then the rest; each part keeps the document's (id) order. */
const attentionFirst = <T>(xs: readonly T[], needsAttention: (x: T) => boolean): T[] => [...xs.filter(needsAttention), ...xs.filter((x) => !needsAttention(x))];

/**
 * The status document within `maxBytes` (the NATS server's `max_payload`): whole when it fits;
 * otherwise pairs, then hosts, then applications, each list with what needs attention first and as
 * many entries as fit, and `truncated` saying what was left out. Forged or simply many hosts once
 * made the answer an error for good; an operator still sees what matters.
 */
export const fitStatus = (doc: StatusDoc, maxBytes: number, whereAll = 'scs --http, GET /status'): StatusDoc => {
  if (bytes(doc) <= maxBytes) return doc;
  const pairs = attentionFirst(doc.pairs, (p) => p.state !== 'ok');
  const hosts = attentionFirst(doc.hosts, (h) => h.lca !== 'up' || h.draining === true);
  const apps = attentionFirst(doc.applications, (a) => a.status !== 'started' || a.gaveUp === true || a.fenced === true);
  const counted = (shown: number, total: number): Counted => ({ shown, total });
  const note = (p: number, h: number, a: number): string =>
    `the whole document is ${bytes(doc)} bytes, over the bus's max_payload (${maxBytes}): shown ${p} of ${doc.pairs.length} pairs, ${h} of ${doc.hosts.length} hosts, ${a} of ${doc.applications.length} applications, those that need attention first; everything: ${whereAll}`;
  // the frame, with the largest numbers the note can hold, bounds what is left for the entries
  const frame: StatusDoc = { ...doc, hosts: [], applications: [], pairs: [], truncated: { note: note(doc.pairs.length, doc.hosts.length, doc.applications.length), hosts: counted(doc.hosts.length, doc.hosts.length), applications: counted(doc.applications.length, doc.applications.length), pairs: counted(doc.pairs.length, doc.pairs.length) } };
  let budget = maxBytes - bytes(frame) - 64;
  const take = <T>(xs: readonly T[]): T[] => {
    const out: T[] = [];
    for (const x of xs) {
      const b = bytes(x) + 1;
      if (b > budget) break;
      budget -= b;
      out.push(x);
    }
    return out;
  };
  const p = take(pairs);
  const h = p.length === pairs.length ? take(hosts) : [];
  const a = h.length === hosts.length ? take(apps) : [];
  return {
    ...doc,
    hosts: h,
    applications: a,
    pairs: p,
    truncated: { note: note(p.length, h.length, a.length), hosts: counted(h.length, doc.hosts.length), applications: counted(a.length, doc.applications.length), pairs: counted(p.length, doc.pairs.length) },
  };
};
