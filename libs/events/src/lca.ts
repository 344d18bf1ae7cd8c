import { z } from 'zod';
import { subjects } from './subjects.js';

/** Role of an application. Every application starts as `backup`; only the SCS promotes. */
export const RoleSchema = z.enum(['primary', 'backup', 'none']);
export type Role = z.infer<typeof RoleSchema>;

export const AppStatusSchema = z.enum(['stopped', 'starting', 'started', 'service-unavailable', 'hung', 'unknown']);
export type AppStatus = z.infer<typeof AppStatusSchema>;

const seq = z.number().int().positive();
const n = z.number().int().min(0);

/** What an LCA runs for one application, as carried by heartbeats and start reports. */
export const AppSnapshotSchema = z.object({
  app: z.string(),
  /** `HA_EVENTS` sequence of the application's `AppStarted`; null until it was stored. */
  incarnation: seq.nullable(),
  pid: z.number().int().nullable(),
  status: AppStatusSchema,
  role: RoleSchema,
});
export type AppSnapshot = z.infer<typeof AppSnapshotSchema>;

/** Fields every LCA event carries: its host, its LCA incarnation and its number within it. */
const fromLca = {
  v: z.literal(1),
  host: z.string(),
  /** The LCA incarnation: `HA_EVENTS` sequence of its `LcaStarted`; 0 in `LcaStarted` itself. */
  lca: z.number().int().min(0),
  /** 0 for `LcaStarted`, then 1, 2, ... in publication order. */
  n,
};

/** An LCA process started. It ended whatever an earlier incarnation left running. */
export const LcaStartedSchema = z.object({
  type: z.literal('LcaStarted'),
  ...fromLca,
  pid: z.number().int(),
  /** Random id of this LCA process, so that its first message has a unique id. */
  bootId: z.string(),
  /** Leftovers of earlier incarnations it killed (application ids). */
  ended: z.array(z.string()).default([]),
});

/** The LCA spawned an application; it runs as backup. Its incarnation is this event's sequence. */
export const AppStartedSchema = z.object({
  type: z.literal('AppStarted'),
  ...fromLca,
  app: z.string(),
  pid: z.number().int(),
  role: RoleSchema,
  /** The command that asked for this start, if any (an LCA start has none). */
  command: z.string().nullable().default(null),
  /** `starting` for an SDK application until it reports `started`; plain processes are `started`. */
  status: z.enum(['starting', 'started']).default('started'),
});

/** An SDK application reported its ability to serve (DESIGN rule 3). */
export const AppStatusChangedSchema = z.object({
  type: z.literal('AppStatusChanged'),
  ...fromLca,
  app: z.string(),
  incarnation: seq,
  status: z.enum(['started', 'service-unavailable']),
  detail: z.string().nullable().default(null),
});

/** Why an application's run ended, as its LCA saw it; all but `exit` are failures the LCA acted on (kill, then reap). */
export const ExitCauseSchema = z.enum(['exit', 'hung', 'connection-lost', 'probe-failed']);
export type ExitCause = z.infer<typeof ExitCauseSchema>;

/** An application's process was reaped. */
export const AppExitedSchema = z.object({
  type: z.literal('AppExited'),
  ...fromLca,
  app: z.string(),
  incarnation: seq,
  pid: z.number().int().nullable(),
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  /** True when the LCA stopped it on command. */
  expected: z.boolean().default(false),
  /** `hung`, `connection-lost`, `probe-failed`: the LCA killed it for that reason and reports once it was reaped. */
  cause: ExitCauseSchema.default('exit'),
});

/**
 * An SDK primary stopped (`fenced: true`) or resumed acting as primary because its lease lapsed or
 * a fresh one arrived (rule 9). Reported after the fact: `monoNs` is the application's
 * `process.hrtime.bigint()` at that moment, as a decimal string.
 */
export const AppSelfFencedSchema = z.object({
  type: z.literal('AppSelfFenced'),
  ...fromLca,
  app: z.string(),
  incarnation: seq,
  fenced: z.boolean(),
  monoNs: z.string().regex(/^\d+$/),
});

/** SIGTERM: the LCA asks for its primaries to be switched over before it stops its applications (drain). */
export const LcaDrainingSchema = z.object({
  type: z.literal('LcaDraining'),
  ...fromLca,
});

/** The LCA stopped its applications and exits; `drained` after a drain (the host is drained, not lost). */
export const LcaStoppedSchema = z.object({
  type: z.literal('LcaStopped'),
  ...fromLca,
  drained: z.boolean(),
});

/** The LCA carried out a promote or demote: the application now acts in `role`. */
export const AppRoleChangedSchema = z.object({
  type: z.literal('AppRoleChanged'),
  ...fromLca,
  app: z.string(),
  incarnation: seq,
  role: RoleSchema,
  /** Epoch of the command carried out, or of the KV entry that made the LCA demote on its own. */
  epoch: z.number().int().min(0),
  command: z.string().nullable(),
});

/**
 * The LCA was cut off (paused, or NATS unreachable) for `gapMs` and is back. Until this event is
 * stored and the LCA has checked whether its host was declared lost before it, the LCA treats its
 * primaries as suspended; a `HostLost` whose evidence predates this event does not count.
 */
export const LcaResumedSchema = z.object({
  type: z.literal('LcaResumed'),
  ...fromLca,
  gapMs: z.number().int().min(0),
  /** `paused`: the LCA's own timers were late; `reconnected`: its NATS connection came back; `unstored`: no heartbeat was stored for a while although it was connected. */
  cause: z.enum(['paused', 'reconnected', 'unstored']),
});

/** The LCA refused a command (stale epoch, wrong incarnation, nothing to act on). */
export const CommandRefusedSchema = z.object({
  type: z.literal('CommandRefused'),
  ...fromLca,
  app: z.string(),
  command: z.string(),
  reason: z.string(),
  /** `peer-check`: the backup's primary still answers `primary` (rule 8); `precondition`, `hook`: a check or onPromote/onDemote failed. */
  kind: z.enum(['refused', 'peer-check', 'precondition', 'hook']).default('refused'),
});

export const LcaEventSchema = z.discriminatedUnion('type', [
  LcaStartedSchema,
  AppStartedSchema,
  AppExitedSchema,
  AppRoleChangedSchema,
  CommandRefusedSchema,
  LcaResumedSchema,
  AppStatusChangedSchema,
  AppSelfFencedSchema,
  LcaDrainingSchema,
  LcaStoppedSchema,
]);
export type LcaStarted = z.infer<typeof LcaStartedSchema>;
export type AppStarted = z.infer<typeof AppStartedSchema>;
export type AppExited = z.infer<typeof AppExitedSchema>;
export type AppRoleChanged = z.infer<typeof AppRoleChangedSchema>;
export type CommandRefused = z.infer<typeof CommandRefusedSchema>;
export type LcaResumed = z.infer<typeof LcaResumedSchema>;
export type AppStatusChanged = z.infer<typeof AppStatusChangedSchema>;
export type AppSelfFenced = z.infer<typeof AppSelfFencedSchema>;
export type LcaDraining = z.infer<typeof LcaDrainingSchema>;
export type LcaStopped = z.infer<typeof LcaStoppedSchema>;
export type LcaEvent = z.infer<typeof LcaEventSchema>;

/** `ha.hb.<host>`: the LCA's heartbeat, stored in `HA_HEARTBEATS` (last per host). */
export const HeartbeatSchema = z.object({
  type: z.literal('Heartbeat'),
  v: z.literal(1),
  host: z.string(),
  /** LCA incarnation, null until its `LcaStarted` was stored. */
  lca: z.number().int().positive().nullable(),
  /** Number of the last event this LCA incarnation has had stored. */
  n,
  pid: z.number().int(),
  apps: z.array(AppSnapshotSchema),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

export const CommandActionSchema = z.enum(['promote', 'demote', 'start', 'stop']);
export type CommandAction = z.infer<typeof CommandActionSchema>;

/** `ha.cmd.<host>.<app>`: a command of the active SCS, carried out only under the latest epoch. */
export const AppCommandSchema = z.object({
  type: z.literal('AppCommand'),
  v: z.literal(1),
  /** Derived from the cause: `cmd:<causeSeq>:<i>`. */
  id: z.string(),
  epoch: seq,
  host: z.string(),
  app: z.string(),
  action: CommandActionSchema,
  /** Target LCA incarnation. */
  lca: seq,
  /** Target application incarnation (`start` names the one that ended, or null). */
  incarnation: seq.nullable(),
  causeSeq: seq,
});
export type AppCommand = z.infer<typeof AppCommandSchema>;

/** Subject kind per LCA event type: events go to `ha.evt.host.<host>.<kind>`. */
const LCA_EVENT_KIND: Readonly<Record<LcaEvent['type'], string>> = {
  LcaStarted: 'lca',
  AppStarted: 'app',
  AppExited: 'app',
  AppRoleChanged: 'role',
  CommandRefused: 'refused',
  LcaResumed: 'lca',
  AppStatusChanged: 'app',
  AppSelfFenced: 'app',
  LcaDraining: 'lca',
  LcaStopped: 'lca',
};

/** The subject an LCA event of `type` from `host` is published on. */
export const lcaEventSubject = (host: string, type: LcaEvent['type']): string => subjects.hostEvent(host, LCA_EVENT_KIND[type]);
