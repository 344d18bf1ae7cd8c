import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
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
  #stopped = false;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.#loop = this.#watch();
  }

  restart(): void {
    void this.#messages?.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close().catch(() => undefined);
    await this.#loop;
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

  async #watch(): Promise<void> {
    while (!this.#stopped) {
      try {
        const c = await this.js.consumers.get(EVENTS_STREAM, { filter_subjects: subjects.claim, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#processed + 1 });
        this.#messages = await c.consume({ max_messages: 64, expires: 5000 });
        if (this.#stopped) await this.#messages.close();
        for await (const m of this.#messages) {
          if (parseClaim(m.data).ok) this.#latestValid = m.seq;
          else this.log.warn({ subject: m.subject, seq: m.seq }, 'malformed claim skipped');
          this.#processed = m.seq;
        }
      } catch (e) {
        if (this.#stopped) break;
        this.log.warn({ err: (e as Error).message }, 'claim watch failed; restarting');
      }
      if (!this.#stopped) await sleep(250);
    }
  }
}
