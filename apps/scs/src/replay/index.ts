export { replayEvents, type ReplayOptions, type ReplayResult } from './reader.js';
export { applyBatch, BatchPacker, type BatchReport, type MalformedInput, type RawBatch } from './batch.js';
export { summarize, type StateSummary } from './summary.js';
