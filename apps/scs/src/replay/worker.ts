// The worker side of `replayEvents` (reader.ts): parses, validates and applies the batches the
// reading thread hands over, in order, and answers each with its report.
import { parentPort, workerData } from 'node:worker_threads';
import { initialState } from '../decider/index.js';
import { applyBatch, type RawBatch } from './batch.js';
import { summarize } from './summary.js';
import type { FromWorker, ToWorker, WorkerOptions } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('replay worker: not in a worker thread');
const { withEffects } = workerData as WorkerOptions;
let state = initialState();
let inputs = 0;
let malformed = 0;
let busyNs = 0n;

const send = (m: FromWorker): void => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  try {
    if (m.kind === 'batch') {
      const b: RawBatch = m.batch;
      const t0 = process.hrtime.bigint();
      const r = applyBatch(state, b, withEffects);
      busyNs += process.hrtime.bigint() - t0;
      state = r.state;
      malformed += r.report.malformed.length;
      inputs += b.count - r.report.malformed.length;
      send({ kind: 'batch', report: r.report });
    } else {
      send({ kind: 'end', inputs, malformed, state: summarize(state), busySeconds: Number(busyNs) / 1e9 });
    }
  } catch (e) {
    send({ kind: 'error', message: (e as Error).stack ?? String(e) });
  }
});
