import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ConsumerLoop } from './consumerLoop.js';
import type { Logger } from '@ha/bus';
import { lastOnSubject, monoMs, sleep } from '@ha/bus';
import { EVENTS_STREAM, ScsClaimedSchema, parseWith, subjects } from '@ha/events';

const parseClaim = parseWith(ScsClaimedSchema);

/**
 * The current epoch: the sequence of the latest *valid* claim in the log. The last message on the
 * claim subject is read for every command (so a new claim counts at once); when that message is not
 * a valid claim (garbage someone published), the epoch is the latest valid claim before it, which an
 * ordered consumer over the claim subject keeps.
 */
export class ClaimTracker {
  #latestValid = 0;
  #processed = 0;
  readonly #loop: ConsumerLoop;

  constructor(
    js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    log: Logger,
  ) {
    this.#loop = new ConsumerLoop(
      'claim watch',
      async () => (await js.consumers.get(EVENTS_STREAM, { filter_subjects: subjects.claim, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#processed + 1 })).consume({ max_messages: 64, expires: 5000 }),
      (m) => {
        if (parseClaim(m.data).ok) this.#latestValid = m.seq;
        else log.warn({ subject: m.subject, seq: m.seq }, 'malformed claim skipped');
        this.#processed = m.seq;
      },
      log,
    );
  }

  start(): void {
    this.#loop.start();
  }
  restart(): void {
    this.#loop.restart();
  }
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async currentEpoch(): Promise<number> {
    const last = await lastOnSubject(this.jsm, EVENTS_STREAM, subjects.claim);
    if (!last) return 0;
    if (parseClaim(last.data).ok) return last.seq;
    const end = monoMs() + 2000;
    while (this.#processed < last.seq) {
      if (monoMs() > end) throw new Error(`claims not read up to seq ${last.seq}`);
      await sleep(5);
    }
    return this.#latestValid;
  }
}
