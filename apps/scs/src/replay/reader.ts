import { Worker } from 'node:worker_threads';
import { DeliverPolicy, type ConsumeOptions, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS_STREAM } from '@ha/events';
import { BatchPacker, type BatchReport } from './batch.js';
import type { FromWorker, ToWorker, WorkerOptions } from './protocol.js';
import type { StateSummary } from './summary.js';

export type ReplayOptions = Readonly<{
  /** Replay up to this sequence; default (and at most) the last sequence of `HA_EVENTS` when the replay starts. */
  upTo?: number;
  /** Messages per batch handed to the worker (default 1000). */
  batchSize?: number;
  /** Batches handed over and not yet applied, at most (default 4): bounds memory when the worker is the slower side. */
  inFlight?: number;
  /**
   * `consume()` options of the ordered consumer. Default `{ max_messages: 1000 }`: larger pulls
   * than nats.js's default cost the reading thread about 2/5 less per message (bench/src/projection.ts).
   */
  consume?: ConsumeOptions;
  /**
   * Called in log order after each batch is applied, with the effects of its inputs (only those
   * that had some) and its malformed messages. Without it the worker sends no effects back.
   */
  onBatch?: (report: BatchReport) => void;
}>;

export type ReplayResult = Readonly<{
  /** The last sequence read (applied or skipped as malformed); 0 for an empty stream. */
  lastSeq: number;
  /** Inputs applied. */
  inputs: number;
  /** Messages skipped as malformed, as the SCS projection counts them. */
  malformed: number;
  /** The decider's state after the last input. */
  state: StateSummary;
  /** From the first read to the final state. */
  seconds: number;
  /** Where the time went: the worker parsing and applying, the reader waiting for the worker to catch up. */
  workerBusySeconds: number;
  readerWaitSeconds: number;
}>;

/**
 * Replays `HA_EVENTS` from its first message as the SCS projection applies it, in two threads:
 * this one reads (ordered consumer) and packs raw messages into batches; a worker thread parses,
 * validates and runs `transition` on them. The slower of the two bounds the rate, not their sum.
 */
export const replayEvents = async (js: JetStreamClient, o: ReplayOptions = {}): Promise<ReplayResult> => {
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(EVENTS_STREAM);
  const last = Math.min(o.upTo ?? Number.MAX_SAFE_INTEGER, info.state.last_seq);
  const options: WorkerOptions = { withEffects: o.onBatch !== undefined };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: options });
  const link = new WorkerLink(worker, o.onBatch);
  const t0 = process.hrtime.bigint();
  let lastSeq = 0;
  let waitNs = 0n;
  try {
    if (last > 0) {
      const packer = new BatchPacker(o.batchSize ?? 1000);
      const maxInFlight = o.inFlight ?? 4;
      const hand = async (): Promise<void> => {
        const batch = packer.take();
        link.post({ kind: 'batch', batch }, [batch.meta.buffer, batch.bytes.buffer]);
        const w = process.hrtime.bigint();
        await link.slots(maxInFlight);
        waitNs += process.hrtime.bigint() - w;
      };
      const c = await js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
      const msgs = await c.consume(o.consume ?? { max_messages: 1000 });
      try {
        for await (const m of msgs) {
          packer.add(m.seq, Number(m.timestampNanos / 1_000_000n), m.subject, m.data);
          lastSeq = m.seq;
          if (m.seq >= last) break;
          if (packer.full) await hand();
        }
      } finally {
        await msgs.close();
      }
      if (packer.count > 0) await hand();
    }
    link.post({ kind: 'end' });
    const end = await link.end;
    return {
      lastSeq,
      inputs: end.inputs,
      malformed: end.malformed,
      state: end.state,
      seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      workerBusySeconds: end.busySeconds,
      readerWaitSeconds: Number(waitNs) / 1e9,
    };
  } finally {
    await worker.terminate();
  }
};

type End = Extract<FromWorker, { kind: 'end' }>;

/** The worker, its reports in order, and how many batches it has yet to apply. */
class WorkerLink {
  readonly end: Promise<End>;
  #pending = 0;
  #failed: Error | null = null;
  #wake: (() => void) | null = null;
  #resolveEnd!: (e: End) => void;
  #rejectEnd!: (e: Error) => void;

  constructor(
    private readonly worker: Worker,
    private readonly onBatch: ((r: BatchReport) => void) | undefined,
  ) {
    this.end = new Promise<End>((resolve, reject) => {
      this.#resolveEnd = resolve;
      this.#rejectEnd = reject;
    });
    // a failure before anyone awaits `end` must not be an unhandled rejection
    this.end.catch(() => undefined);
    worker.on('message', (m: FromWorker) => this.#onMessage(m));
    worker.on('error', (e) => this.#fail(e));
    worker.on('exit', (code) => this.#fail(new Error(`replay worker exited (code ${code})`)));
  }

  post(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.#failed) throw this.#failed;
    if (m.kind === 'batch') this.#pending++;
    this.worker.postMessage(m, transfer);
  }

  /** Resolves once fewer than `max` batches are pending. */
  async slots(max: number): Promise<void> {
    while (this.#pending >= max) {
      if (this.#failed) throw this.#failed;
      await new Promise<void>((r) => (this.#wake = r));
    }
    if (this.#failed) throw this.#failed;
  }

  #onMessage(m: FromWorker): void {
    switch (m.kind) {
      case 'batch':
        this.#pending--;
        try {
          this.onBatch?.(m.report);
        } catch (e) {
          this.#fail(e instanceof Error ? e : new Error(String(e)));
        }
        this.#wakeUp();
        break;
      case 'end':
        this.#resolveEnd(m);
        break;
      case 'error':
        this.#fail(new Error(`replay worker: ${m.message}`));
        break;
    }
  }

  #fail(e: Error): void {
    if (this.#failed) return;
    this.#failed = e;
    this.#rejectEnd(e);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }
}
