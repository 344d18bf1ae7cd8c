import { z } from 'zod';

/** Fields of every operator input (`ha.evt.op.<kind>`): who asked, and an id to follow the outcome by. */
const fromOperator = {
  v: z.literal(1),
  pair: z.string(),
  /** Chosen by the requester; the outcome (announcement or refusal notice) carries it back. */
  requestId: z.string().min(1),
  by: z.string().default('hactl'),
};

/** `ha.evt.op.switchover`: a graceful manual switchover (demote and confirm, then promote; reason `manual`). */
export const SwitchoverRequestedSchema = z.object({ type: z.literal('SwitchoverRequested'), ...fromOperator });
/** `ha.evt.op.pause`: failures of the pair are shown but nothing is done automatically (as Patroni's pause). */
export const PauseRequestedSchema = z.object({ type: z.literal('PauseRequested'), ...fromOperator });
/** `ha.evt.op.resume`: automatic handling of the pair again. */
export const ResumeRequestedSchema = z.object({ type: z.literal('ResumeRequested'), ...fromOperator });

export const OperatorInputSchema = z.discriminatedUnion('type', [SwitchoverRequestedSchema, PauseRequestedSchema, ResumeRequestedSchema]);
export type SwitchoverRequested = z.infer<typeof SwitchoverRequestedSchema>;
export type PauseRequested = z.infer<typeof PauseRequestedSchema>;
export type ResumeRequested = z.infer<typeof ResumeRequestedSchema>;
export type OperatorInput = z.infer<typeof OperatorInputSchema>;

/** Subject kind of each operator input. */
export const operatorKind = { SwitchoverRequested: 'switchover', PauseRequested: 'pause', ResumeRequested: 'resume' } as const;
