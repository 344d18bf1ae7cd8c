/** Subjects, stream names and KV buckets: the bus layout of DESIGN.md section 4. */

/** Stream of LCA heartbeats, last message per host kept. */
export const HEARTBEATS_STREAM = 'HA_HEARTBEATS';
/** The audit log: every input of the decider, in order. */
export const EVENTS_STREAM = 'HA_EVENTS';
/** Commands from the active SCS to the LCAs. */
export const COMMANDS_STREAM = 'HA_COMMANDS';
/** Effects as carried out by the active SCS. */
export const DECISIONS_STREAM = 'HA_DECISIONS';
/** Switchover announcements, republished to `ha.switchover.<pair>` once stored. */
export const SWITCHOVERS_STREAM = 'HA_SWITCHOVERS';
/** KV bucket: current primary per pair. */
export const PRIMARIES_BUCKET = 'ha_primaries';

const token = (s: string): string => {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new Error(`not a valid subject token: ${JSON.stringify(s)}`);
  return s;
};

export const subjects = {
  heartbeat: (host: string) => `ha.hb.${token(host)}`,
  heartbeatsAll: 'ha.hb.>',
  eventsAll: 'ha.evt.>',
  /** An LCA writes only below its own host prefix. */
  hostEvent: (host: string, kind: string) => `ha.evt.host.${token(host)}.${token(kind)}`,
  claim: 'ha.evt.scs.claim',
  config: 'ha.evt.scs.config',
  observation: (host: string) => `ha.evt.scs.obs.${token(host)}`,
  timer: 'ha.evt.scs.timer',
  operator: (kind: string) => `ha.evt.op.${token(kind)}`,
  command: (host: string, app: string) => `ha.cmd.${token(host)}.${token(app)}`,
  commandsForHost: (host: string) => `ha.cmd.${token(host)}.>`,
  commandsAll: 'ha.cmd.>',
  decision: (kind: string) => `ha.dec.${token(kind)}`,
  decisionsAll: 'ha.dec.>',
  switchoverStored: (pair: string) => `ha.sw.${token(pair)}`,
  switchoverStoredAll: 'ha.sw.>',
  /** What external tools subscribe to: only stored announcements arrive here. */
  switchover: (pair: string) => `ha.switchover.${token(pair)}`,
  switchoverAll: 'ha.switchover.>',
  scsHeartbeat: (id: string) => `ha.scs.hb.${token(id)}`,
  scsHeartbeatAll: 'ha.scs.hb.*',
  /** Every SCS answers once its view has caught up with the log (the first answer wins). */
  status: 'ha.api.status',
  /** The status as one named SCS sees it. */
  statusOf: (scs: string) => `ha.api.status.${token(scs)}`,
} as const;

/** True when `s` may be used as one subject token (host, app and SCS ids). */
export const isToken = (s: string): boolean => /^[A-Za-z0-9_-]+$/.test(s);
