import {
  COMMANDS_STREAM,
  DECISIONS_STREAM,
  EVENTS_STREAM,
  HEARTBEATS_STREAM,
  SWITCHOVERS_STREAM,
  subjects,
} from './subjects.js';

/** The streams the product needs, as plain data; `libs/bus` creates them. */
export type StreamSpec = Readonly<{
  name: string;
  subjects: string[];
  /** Keep only the last message per subject. */
  lastPerSubject?: boolean;
  maxAgeMs?: number;
  duplicateWindowMs: number;
  /** The audit log cannot be rewritten by clients. */
  denyDeleteAndPurge?: boolean;
  republish?: { src: string; dest: string };
}>;

const MINUTE = 60_000;

export const streamSpecs: readonly StreamSpec[] = [
  { name: EVENTS_STREAM, subjects: [subjects.eventsAll], duplicateWindowMs: 10 * MINUTE, denyDeleteAndPurge: true },
  { name: HEARTBEATS_STREAM, subjects: [subjects.heartbeatsAll], lastPerSubject: true, duplicateWindowMs: 1000 },
  { name: COMMANDS_STREAM, subjects: [subjects.commandsAll], maxAgeMs: 60 * MINUTE, duplicateWindowMs: 10 * MINUTE },
  { name: DECISIONS_STREAM, subjects: [subjects.decisionsAll], duplicateWindowMs: 10 * MINUTE },
  {
    name: SWITCHOVERS_STREAM,
    subjects: [subjects.switchoverStoredAll],
    duplicateWindowMs: 10 * MINUTE,
    republish: { src: subjects.switchoverStoredAll, dest: subjects.switchoverAll },
  },
];
