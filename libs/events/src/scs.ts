import { z } from 'zod';
import { ClusterConfigSchema } from './config.js';
import { AppStatusSchema, HeartbeatSchema, RoleSchema } from './lca.js';

const seq = z.number().int().positive();

/**
 * `ha.evt.scs.claim`: an SCS that won the Redis lease claims leadership. Appended with
 * `Nats-Expected-Last-Subject-Sequence` = the last claim it saw; its stream sequence is the epoch.
 */
export const ScsClaimedSchema = z.object({
  type: z.literal('ScsClaimed'),
  v: z.literal(1),
  scs: z.string(),
  /** The decider version that will make decisions under this epoch. */
  deciderVersion: z.number().int().positive(),
});

/** Fields of every other SCS-written input: the epoch it was written under. */
const fromScs = { v: z.literal(1), epoch: seq, scs: z.string() };

/** `ha.evt.scs.config`: the configuration the decider uses from here on. */
export const ConfigAppliedSchema = z.object({
  type: z.literal('ConfigApplied'),
  ...fromScs,
  config: ClusterConfigSchema,
});

/** `ha.evt.scs.obs.<host>`: the detector saw no stored heartbeat of `host` for `silenceMs`. */
export const HostLostSchema = z.object({
  type: z.literal('HostLost'),
  ...fromScs,
  host: z.string(),
  /** LCA incarnation of the last heartbeat seen, if any. */
  lca: z.number().int().positive().nullable(),
  /** Event number carried by that heartbeat: the evidence. A later `LcaResumed` makes it stale. */
  n: z.number().int().min(0).nullable().default(null),
  lastHeartbeatAt: z.string().nullable(),
  silenceMs: z.number().int().min(0),
});

/** `ha.evt.scs.obs.<host>`: a lost host's heartbeats are being stored again. */
export const HostReturnedSchema = z.object({
  type: z.literal('HostReturned'),
  ...fromScs,
  host: z.string(),
  heartbeat: HeartbeatSchema,
});

/** `ha.evt.scs.timer`: a timer the decider asked for has fired (message id `timer:<epoch>:<id>`). */
export const TimerFiredSchema = z.object({
  type: z.literal('TimerFired'),
  ...fromScs,
  timer: z.string(),
});

export const ScsEventSchema = z.discriminatedUnion('type', [
  ScsClaimedSchema,
  ConfigAppliedSchema,
  HostLostSchema,
  HostReturnedSchema,
  TimerFiredSchema,
]);
export type ScsClaimed = z.infer<typeof ScsClaimedSchema>;
export type ConfigApplied = z.infer<typeof ConfigAppliedSchema>;
export type HostLost = z.infer<typeof HostLostSchema>;
export type HostReturned = z.infer<typeof HostReturnedSchema>;
export type TimerFired = z.infer<typeof TimerFiredSchema>;
export type ScsEvent = z.infer<typeof ScsEventSchema>;

export const SwitchoverReasonSchema = z.enum([
  'process-exit',
  'hung',
  'connection-lost',
  'probe-failed',
  'service-unavailable',
  'host-lost',
  'manual',
]);
export type SwitchoverReason = z.infer<typeof SwitchoverReasonSchema>;

/** `ha.sw.<pair>` → `ha.switchover.<pair>`: a completed switchover (contract). */
export const AnnouncementSchema = z.object({
  pair: z.string(),
  from: z.object({ app: z.string(), host: z.string() }),
  to: z.object({ app: z.string(), host: z.string(), endpoint: z.string().nullable() }),
  reason: SwitchoverReasonSchema,
  epoch: seq,
  /** `HA_EVENTS` sequence of the failure that caused it. */
  causeSeq: seq,
  /** JetStream time of the confirmation that completed it (ISO 8601). */
  at: z.string(),
});
export type Announcement = z.infer<typeof AnnouncementSchema>;

/** KV `ha_primaries`, key `<pair>`: the pair's current primary. */
export const PrimaryEntrySchema = z.object({
  pair: z.string(),
  app: z.string(),
  host: z.string(),
  endpoint: z.string().nullable(),
  epoch: seq,
  causeSeq: seq,
  at: z.string(),
});
export type PrimaryEntry = z.infer<typeof PrimaryEntrySchema>;

/** `ha.dec.<kind>`: an effect as the active SCS carried it out. */
export const DecisionRecordSchema = z.object({
  v: z.literal(1),
  epoch: seq,
  scs: z.string(),
  /** The input that caused it and its index among that input's effects. */
  causeSeq: seq,
  index: z.number().int().min(0),
  effect: z.record(z.string(), z.unknown()).and(z.object({ kind: z.string() })),
});
export type DecisionRecord = z.infer<typeof DecisionRecordSchema>;

export const PairStateSchema = z.enum(['ok', 'switching', 'degraded', 'waiting-operator', 'paused']);

/** The document `hactl status --json` prints and `ha.api.status` answers (contract). */
export const StatusDocSchema = z.object({
  scs: z.object({
    active: z.string().nullable(),
    epoch: z.number().int().min(0),
    /** The SCS that answered, and the last `HA_EVENTS` sequence its view includes. */
    answeredBy: z.string().optional(),
    lastSeq: z.number().int().min(0).optional(),
    /** False when no SCS can act now (e.g. Redis down): failures are shown but not acted on. */
    acting: z.boolean().optional(),
    /**
     * The answering SCS's view includes every input the log held when the request came (it waits
     * a bounded time to catch up before answering); false when it could not, e.g. just resumed.
     */
    caughtUp: z.boolean().optional(),
    /** The log's last sequence when the request came; null when the log could not be read. */
    logLastSeq: z.number().int().min(0).nullable().optional(),
    /**
     * What keeps the answering SCS from acting that an operator must fix (a lease key with no
     * expiry, a truncated or replaced log, streams configured otherwise than expected).
     */
    problems: z.array(z.string()).optional(),
  }),
  cluster: z.string().nullable().optional(),
  hosts: z.array(
    z.object({
      id: z.string(),
      /** `drained`: its LCA handed its primaries over and stopped on purpose (not lost). */
      lca: z.enum(['up', 'lost', 'drained']),
      draining: z.boolean().optional(),
      lastHeartbeatAt: z.string().nullable(),
      incarnation: z.number().int().nullable().optional(),
    }),
  ),
  applications: z.array(
    z.object({
      id: z.string(),
      host: z.string(),
      status: AppStatusSchema,
      role: RoleSchema,
      pid: z.number().int().nullable(),
      restarts: z.number().int().min(0),
      incarnation: z.number().int().nullable().optional(),
      gaveUp: z.boolean().optional(),
      /** The application reported that its lease lapsed and it stopped acting as primary (rule 9). */
      fenced: z.boolean().optional(),
    }),
  ),
  pairs: z.array(
    z.object({
      id: z.string(),
      primary: z.string(),
      backup: z.string(),
      type: z.enum(['warm', 'hot']),
      autoSwitchover: z.boolean(),
      current: z.string().nullable(),
      state: PairStateSchema,
      lastRefusal: z.string().nullable(),
      lastFailure: z.object({ app: z.string(), reason: SwitchoverReasonSchema, causeSeq: seq }).nullable().optional(),
      paused: z.boolean().optional(),
    }),
  ),
  /**
   * Present when the whole document was larger than the bus allows (`max_payload`): the lists hold
   * what needs attention first (hosts not up, applications not started, pairs not ok), then the
   * rest by id, as many as fit; `note` says what was left out and where to read everything.
   */
  truncated: z
    .object({
      note: z.string(),
      hosts: z.object({ shown: z.number().int().min(0), total: z.number().int().min(0) }),
      applications: z.object({ shown: z.number().int().min(0), total: z.number().int().min(0) }),
      pairs: z.object({ shown: z.number().int().min(0), total: z.number().int().min(0) }),
    })
    .optional(),
});
export type StatusDoc = z.infer<typeof StatusDocSchema>;
export { AppStatusSchema, RoleSchema };
