import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { ConsumerLoop } from './consumerLoop.js';
import { epochInForceAt } from './claims.js';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { Logger } from '@ha/bus';
import { lastOnSubject, sleep } from '@ha/bus';
import { ConfigAppliedSchema, EVENTS_STREAM, parseWith, subjects, type ConfigApplied } from '@ha/events';

const parseConfigApplied = parseWith(ConfigAppliedSchema);

export type ConfigHandler = (config: ConfigApplied, seq: number) => void;

/**
 * The configuration as the log holds it: the latest `ConfigApplied` on `ha.evt.scs.config`, then
 * every newer one through an ordered consumer that starts after it. Malformed messages are logged,
 * counted and skipped.
 */
export class ConfigSource {
  malformed = 0;
  /** Configurations ignored because their epoch was not the one in force where they sit in the log. */
  stale = 0;
  #lastSeq = 0;
  #lastStaleSeq = 0;
  #next = 1;
  #stopped = false;
  readonly #loop: ConsumerLoop;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly onConfig: ConfigHandler,
  ) {
    this.#loop = new ConsumerLoop(
      'configuration watch',
      async () => (await this.js.consumers.get(EVENTS_STREAM, { filter_subjects: subjects.config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.#next })).consume({ max_messages: 16, expires: 5000 }),
      async (m) => {
        // a failed epoch check throws out of here: the loop reads this message again
        const r = this.#check(m.data, m.seq, m.subject);
        const verdict = r && (await this.#epochOk(r, m.seq));
        this.#next = m.seq + 1;
        if (!r || !verdict) return;
        try {
          this.#apply(r, m.seq);
        } catch (e) {
          this.log.error({ err: (e as Error).message, seq: m.seq }, 'applying a configuration failed');
        }
      },
      log,
    );
  }

  /** Sequence of the last valid `ConfigApplied` handed over, 0 if none. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Reads the latest configuration (handing it over if valid) and starts watching; true when one was found. */
  async start(): Promise<boolean> {
    let found = false;
    let from = 1;
    for (;;) {
      try {
        const sm = await lastOnSubject(this.jsm, EVENTS_STREAM, subjects.config);
        if (sm) {
          const r = this.#check(sm.data, sm.seq, sm.subject);
          found = !!r && (await this.#epochOk(r, sm.seq));
          if (r && found) this.#apply(r, sm.seq);
          // a malformed or stale last message: read them all, so the latest valid one is found
          from = found ? sm.seq + 1 : 1;
        }
        break;
      } catch (e) {
        if (this.#stopped) return false;
        this.log.warn({ err: (e as Error).message }, 'cannot read the configuration from the log; retrying');
        await sleep(250);
      }
    }
    this.#next = from;
    this.#loop.start();
    return found;
  }

  /** Re-creates the subscription at once (after a reconnect) instead of waiting for the client to notice. */
  restart(): void {
    this.#loop.restart();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop.stop();
  }

  /** The message as a `ConfigApplied` newer than the last one handed over, or null (malformed ones logged). */
  #check(data: Uint8Array, seq: number, subject: string): ConfigApplied | null {
    const r = parseConfigApplied(data);
    if (!r.ok) {
      this.malformed++;
      this.log.warn({ subject, seq, err: r.error, malformed: this.malformed }, 'malformed configuration message skipped');
      return null;
    }
    return seq <= this.#lastSeq ? null : r.value;
  }

  /**
   * A configuration counts only under the epoch in force at its place in the log (the decider's rule
   * for SCS-written inputs): anyone who can publish on the subject could otherwise make every LCA run
   * any command. One line, and the current configuration stays.
   */
  async #epochOk(c: ConfigApplied, seq: number): Promise<boolean> {
    const v = await epochInForceAt(this.jsm, c.epoch, seq);
    if (v.ok) return true;
    if (seq <= this.#lastStaleSeq) return false; // read again (start, then the watch from 1): said already
    this.#lastStaleSeq = seq;
    this.stale++;
    this.log.error({ seq, epoch: c.epoch, inForce: v.inForce, scs: c.scs, why: v.why, stale: this.stale }, 'configuration of a stale or unknown epoch ignored; the current configuration stays');
    return false;
  }

  #apply(c: ConfigApplied, seq: number): void {
    this.#lastSeq = seq;
    this.onConfig(c, seq);
  }
}
