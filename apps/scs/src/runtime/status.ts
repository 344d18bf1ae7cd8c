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
