import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { ConsumerLoop } from './consumerLoop.js';
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
  #lastSeq = 0;
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
      (m) => {
        this.#next = m.seq + 1;
        try {
          this.#accept(m.data, m.seq, m.subject);
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
          found = this.#accept(sm.data, sm.seq, sm.subject);
          // a malformed last message: read them all, so the latest valid one is found
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

  #accept(data: Uint8Array, seq: number, subject: string): boolean {
    const r = parseConfigApplied(data);
    if (!r.ok) {
      this.malformed++;
      this.log.warn({ subject, seq, err: r.error, malformed: this.malformed }, 'malformed configuration message skipped');
      return false;
    }
    if (seq <= this.#lastSeq) return false;
    this.#lastSeq = seq;
    this.onConfig(r.value, seq);
    return true;
  }
}
