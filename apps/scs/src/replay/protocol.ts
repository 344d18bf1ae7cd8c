import type { BatchReport, RawBatch } from './batch.js';
import type { StateSummary } from './summary.js';

/** Messages between `replayEvents` and its worker thread. */
export type WorkerOptions = Readonly<{ withEffects: boolean }>;
export type ToWorker = { kind: 'batch'; batch: RawBatch } | { kind: 'end' };
export type FromWorker =
  | { kind: 'batch'; report: BatchReport }
  | { kind: 'end'; inputs: number; malformed: number; state: StateSummary; busySeconds: number }
  | { kind: 'error'; message: string };
