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

/** Why a configuration's epoch is not the one in force at its place in the log, or null when it is. */
export type EpochVerdict = { ok: true } | { ok: false; why: string; inForce: number | null };

/**
 * Is `epoch` the epoch in force at sequence `seq` of `HA_EVENTS`: the sequence of the latest valid
 * claim before it? The decider's rule for SCS-written inputs (`fromCurrentEpoch`), read from the
 * stream: the message at `epoch` must be a valid claim, and no valid claim may lie between it and
 * `seq` (found with `next_by_subj`, which nats-server 2.9 answers). Throws when the stream cannot be
 * read (the caller tries again).
 */
export const epochInForceAt = async (jsm: JetStreamManager, epoch: number, seq: number): Promise<EpochVerdict> => {
  if (!(epoch > 0 && epoch < seq)) return { ok: false, why: `epoch ${epoch} is not a claim before seq ${seq}`, inForce: null };
  const at = await jsm.streams.getMessage(EVENTS_STREAM, { seq: epoch });
  if (!at || at.subject !== subjects.claim || !parseClaim(at.data).ok) return { ok: false, why: `no valid claim at seq ${epoch}`, inForce: null };
  for (let from = epoch + 1; from < seq; ) {
    // `next_by_subj` is in the server's message-get request, not in the client's type for it
    const next = await jsm.streams.getMessage(EVENTS_STREAM, { seq: from, next_by_subj: subjects.claim } as unknown as { seq: number });
    if (!next || next.seq >= seq) break;
    if (next.subject === subjects.claim && parseClaim(next.data).ok) return { ok: false, why: `a later claim (seq ${next.seq}) precedes it`, inForce: next.seq };
    from = next.seq + 1;
  }
  return { ok: true };
};
