import { z } from 'zod';
import { RoleSchema } from './lca.js';

/*
 * The SDK protocol between a managed application (`libs/agent`) and its LCA, over the Unix socket
 * named by `HA_LCA_SOCKET`: one JSON object per line, each direction. Both sides parse with these
 * schemas; an unknown or malformed line is logged and skipped.
 */

/** First line from the application. */
export const HelloSchema = z.object({ type: z.literal('hello'), v: z.literal(1), app: z.string(), pid: z.number().int() });
/** Answer to a ping (the LCA judges an application hung after `appTimeoutMs` without one). */
export const PongSchema = z.object({ type: z.literal('pong'), id: z.number().int() });
/** `started` once initialized; `service-unavailable` when it cannot serve (rule 3). */
export const StatusReportSchema = z.object({ type: z.literal('status'), status: z.enum(['started', 'service-unavailable']), detail: z.string().nullable().default(null) });
/** The role change's handler ran: the application now acts in `role`. */
export const RoleConfirmedSchema = z.object({ type: z.literal('role-confirmed'), command: z.string().nullable(), role: RoleSchema, epoch: z.number().int().min(0) });
/** The application refuses a promotion: its peer still answers primary, or its precondition fails (rule 8). */
export const RoleRefusedSchema = z.object({ type: z.literal('role-refused'), command: z.string().nullable(), reason: z.string(), kind: z.enum(['peer-check', 'precondition']) });
/** The primary stopped (or resumed) acting as primary on its own lease (rule 9); `monoNs` = its hrtime then. */
export const FencedReportSchema = z.object({ type: z.literal('fenced'), fenced: z.boolean(), monoNs: z.string().regex(/^\d+$/) });

export const AppToLcaSchema = z.discriminatedUnion('type', [HelloSchema, PongSchema, StatusReportSchema, RoleConfirmedSchema, RoleRefusedSchema, FencedReportSchema]);
export type AppToLca = z.infer<typeof AppToLcaSchema>;

/** Answer to hello: what the LCA knows of this run. */
export const WelcomeSchema = z.object({ type: z.literal('welcome'), v: z.literal(1), app: z.string(), incarnation: z.number().int().nullable(), role: RoleSchema });
export const PingSchema = z.object({ type: z.literal('ping'), id: z.number().int() });
/**
 * A role change, carrying the epoch of the command. For a promotion, `peer` is the endpoint of the
 * pair's other member (for the peer check) and `peerCheck` says whether to ask it (`keep-serving` pairs).
 */
export const RoleChangeSchema = z.object({
  type: z.literal('role'),
  role: RoleSchema,
  epoch: z.number().int().min(0),
  command: z.string().nullable(),
  peer: z.string().nullable().default(null),
  peerCheck: z.boolean().default(false),
});
/**
 * The primary lease: valid for `ttlMs` from the moment the application receives it, on its own
 * monotonic clock. Sent only while the LCA's heartbeats are being stored. `ttlMs: null` means no
 * fencing (`keep-serving` pairs).
 */
export const LeaseSchema = z.object({ type: z.literal('lease'), ttlMs: z.number().int().positive().nullable(), epoch: z.number().int().min(0) });

export const LcaToAppSchema = z.discriminatedUnion('type', [WelcomeSchema, PingSchema, RoleChangeSchema, LeaseSchema]);
export type LcaToApp = z.infer<typeof LcaToAppSchema>;

/** The peer-check answer an SDK application serves on its own endpoint (`GET /ha/role` for HTTP). */
export const RoleAnswerSchema = z.object({ app: z.string(), role: RoleSchema, acting: z.boolean() });
export type RoleAnswer = z.infer<typeof RoleAnswerSchema>;
