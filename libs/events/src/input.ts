import { z } from 'zod';
import { codec, type Parsed, type Recorded } from './envelope.js';
import { AppCommandSchema, HeartbeatSchema, LcaEventSchema, type AppCommand, type Heartbeat, type LcaEvent } from './lca.js';
import { ScsEventSchema, type ScsEvent } from './scs.js';
import { OperatorInputSchema, type OperatorInput } from './op.js';

/** Every input of the decider: what `HA_EVENTS` holds. */
export type Input = LcaEvent | ScsEvent | OperatorInput;

/**
 * One discriminated union over every input type (not a union of three unions, which tries each in
 * turn): about a fifth less parse time per event in a replay (bench/src/projection.ts).
 */
export const InputSchema = z.discriminatedUnion('type', [...LcaEventSchema.options, ...ScsEventSchema.options, ...OperatorInputSchema.options]);

/**
 * The schemas read on hot paths, compiled by zod (`z.compile`, zod >= 4.6): a clone whose parse
 * runs generated code first and falls back to zod's ordinary parser whenever that code does not
 * accept the value, so the accepted values, the output and every error message stay zod's. About
 * a quarter of the parse time of an input (decision 0008); `input.compiled.unit.spec.ts` checks
 * that both agree on valid and broken messages.
 */
export const compiled = {
  input: z.compile(InputSchema),
  heartbeat: z.compile(HeartbeatSchema),
  command: z.compile(AppCommandSchema),
} as const;

const describe = (e: z.ZodError): string =>
  e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');

const parseWith =
  <T>(schema: z.ZodType<T>) =>
  (data: Uint8Array): Parsed<T> => {
    const json = codec.decodeJson(data);
    if (!json.ok) return json;
    const r = schema.safeParse(json.value);
    return r.success ? { ok: true, value: r.data } : { ok: false, error: describe(r.error) };
  };

const parseInputJson = parseWith(compiled.input);

/**
 * Parses an `HA_EVENTS` message and checks that its subject may carry it: an LCA writes only
 * `ha.evt.host.<its host>.>`, an SCS only `ha.evt.scs.>`.
 */
export const parseInput = (subject: string, data: Uint8Array): Parsed<Input> => {
  const r = parseInputJson(data);
  if (!r.ok) return r;
  const input = r.value;
  if (input.type === 'SwitchoverRequested' || input.type === 'PauseRequested' || input.type === 'ResumeRequested') {
    if (!subject.startsWith('ha.evt.op.')) return { ok: false, error: `${input.type} on subject ${subject}, expected ha.evt.op.>` };
  } else if ('host' in input && input.type !== 'HostLost' && input.type !== 'HostReturned') {
    if (!subject.startsWith(`ha.evt.host.${input.host}.`)) {
      return { ok: false, error: `${input.type} for host "${input.host}" on foreign subject ${subject}` };
    }
  } else if (!subject.startsWith('ha.evt.scs.')) {
    return { ok: false, error: `${input.type} on subject ${subject}, expected ha.evt.scs.>` };
  }
  return r;
};

export const parseHeartbeat: (data: Uint8Array) => Parsed<Heartbeat> = parseWith(compiled.heartbeat);
export const parseCommand: (data: Uint8Array) => Parsed<AppCommand> = parseWith(compiled.command);
export { parseWith };
export type RecordedInput = Recorded<Input>;
