import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import type { Logger } from '@ha/bus';
import { contentTag, sleep } from '@ha/bus';
import { codec, lcaEventSubject, subjects, type LcaEvent } from '@ha/events';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An LCA event without the fields the outbox fills in (`v`, `host`, `lca`, `n`). */
export type EventBody = DistributiveOmit<LcaEvent, 'v' | 'host' | 'lca' | 'n'>;

/** An event as stored: its `HA_EVENTS` sequence and its content. */
export type Stored = Readonly<{ seq: number; event: LcaEvent }>;

/** The part of the JetStream client the outbox uses. */
export type Publisher = Pick<JetStreamClient, 'publish'>;
/** What reads a stored message back (a duplicate's ack names it). */
export type Reader = Pick<JetStreamManager, 'streams'>;

type Entry = {
  build: () => EventBody;
  onStored: ((seq: number, event: LcaEvent) => void) | undefined;
  built: { event: LcaEvent; msgID: string; subject: string } | undefined;
  resolve: (s: Stored) => void;
  reject: (e: Error) => void;
};

export const RETRY_MS = 250;

/**
 * Publishes this LCA's events to `HA_EVENTS` one at a time and in order, each awaiting its ack.
 * A failed publish is retried with the same payload and message id until it is stored, so that a
 * duplicate caused by a lost ack is dropped by JetStream. Events are built at their first attempt:
 * the LCA incarnation (the sequence of `LcaStarted`) and an application's incarnation (the sequence
 * of its `AppStarted`) are known only once earlier events were acked.
 */
export class Outbox {
  readonly #queue: Entry[] = [];
  readonly #bootId: string;
  #incarnation: number | null = null;
  #n = 0;
  #lastStoredN = 0;
  #running = false;
  #closed = false;
  #idle: Array<() => void> = [];
  #wake: (() => void) | undefined;
  /** Our message ids found taken by other messages; ours were published again under a new number. */
  forgedDuplicates = 0;

  constructor(
    private readonly js: Publisher,
    private readonly host: string,
    private readonly log: Logger,
    bootId: string,
    private readonly timeoutMs = 2000,
    private readonly reader: Reader | null = null,
  ) {
    this.#bootId = bootId;
  }

  /** The LCA incarnation, once `LcaStarted` was stored. */
  get incarnation(): number | null {
    return this.#incarnation;
  }
  /** Number of the last event stored (0 before any event after `LcaStarted`). */
  get lastStoredN(): number {
    return this.#lastStoredN;
  }
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Queues an event; `onStored` runs synchronously once it was stored, before the next event is
   * built (so that a later event can read what the ack taught, e.g. an application's incarnation).
   */
  publish(build: () => EventBody, onStored?: (seq: number, event: LcaEvent) => void): Promise<Stored> {
    if (this.#closed) return Promise.reject(new Error('outbox closed'));
    const p = new Promise<Stored>((resolve, reject) => {
      this.#queue.push({ build, onStored, built: undefined, resolve, reject });
    });
    p.catch(() => undefined);
    void this.#run();
    return p;
  }

  /** Resolves true once every queued event was stored, false after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.#queue.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.#idle.push(() => resolve(true)));
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const r = await Promise.race([idle, late]);
    clearTimeout(timer);
    return r;
  }

  /**
   * The connection is back: stop waiting for the answer to an attempt made while it was down and
   * try again at once (same message id, so whichever attempt lands first is the only one stored).
   */
  nudge(): void {
    this.#wake?.();
  }

  /** Stops publishing; what is still queued is dropped. */
  close(): void {
    this.#closed = true;
    for (const e of this.#queue.splice(0)) e.reject(new Error('outbox closed'));
  }

  #build(entry: Entry): { event: LcaEvent; msgID: string; subject: string } {
    const body = entry.build();
    if (body.type === 'LcaStarted') {
      if (this.#incarnation !== null || this.#n !== 0) throw new Error('LcaStarted must be the first event');
      const event: LcaEvent = { ...body, v: 1, host: this.host, lca: 0, n: 0 };
      return { event, msgID: `lca:${this.host}:boot-${this.#bootId}:0`, subject: subjects.hostEvent(this.host, 'lca') };
    }
    if (this.#incarnation === null) throw new Error(`${body.type} built before LcaStarted was stored`);
    const n = this.#n + 1;
    const event: LcaEvent = { ...body, v: 1, host: this.host, lca: this.#incarnation, n };
    this.#n = n;
    return { event, msgID: `lca:${this.host}:${this.#incarnation}:${n}`, subject: lcaEventSubject(this.host, body.type) };
  }

  /** Is the message a duplicate ack names our own (same subject and content)? */
  async #ours(ack: PubAck, subject: string, data: Uint8Array): Promise<boolean> {
    if (!this.reader) return true;
    let sm;
    try {
      sm = await this.reader.streams.getMessage(ack.stream, { seq: ack.seq });
    } catch (e) {
      // a duplicate is usually our own retry: when it cannot be read back (permissions, an outage),
      // taking it for ours keeps the outbox moving; the read error is said
      this.log.warn({ seq: ack.seq, err: (e as Error).message }, 'outbox: cannot read back the message a duplicate ack names; taken for ours');
      return true;
    }
    return !!sm && sm.subject === subject && Buffer.from(sm.data).equals(Buffer.from(data));
  }

  /** The same event under a fresh id: the next number (LcaStarted, number 0, gets a suffix of its content instead). */
  #renumber(b: { event: LcaEvent; msgID: string; subject: string }): { event: LcaEvent; msgID: string; subject: string } {
    if (b.event.type === 'LcaStarted' || this.#incarnation === null) return { ...b, msgID: `${b.msgID}~${contentTag(b.subject, codec.encode(b.event))}` };
    const n = ++this.#n;
    return { event: { ...b.event, n }, msgID: `lca:${this.host}:${this.#incarnation}:${n}`, subject: b.subject };
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    let failing = false;
    try {
      while (!this.#closed) {
        const entry = this.#queue[0];
        if (!entry) break;
        if (!entry.built) {
          try {
            entry.built = this.#build(entry);
          } catch (e) {
            // A builder that cannot produce its event is a bug: drop it rather than block the log.
            this.log.error({ err: (e as Error).message }, 'outbox: cannot build event; dropped');
            this.#queue.shift();
            entry.reject(e as Error);
            continue;
          }
        }
        const { event, msgID, subject } = entry.built;
        const data = codec.encode(event);
        let ack: PubAck | null;
        try {
          const attempt = this.js.publish(subject, data, { msgID, timeout: this.timeoutMs }).then(async (a) => (a.duplicate && !(await this.#ours(a, subject, data)) ? { ...a, forged: true } : a));
          attempt.catch(() => undefined);
          const woken = new Promise<null>((resolve) => {
            this.#wake = () => resolve(null);
          });
          ack = await Promise.race([attempt, woken]);
        } catch (e) {
          if (this.#closed) break;
          if (!failing) this.log.warn({ err: (e as Error).message, msgID }, 'outbox: publish failed; retrying every 250 ms');
          failing = true;
          await Promise.race([sleep(RETRY_MS), new Promise<void>((resolve) => (this.#wake = resolve))]);
          continue;
        } finally {
          this.#wake = undefined;
        }
        if (ack === null) continue;
        if (failing) this.log.info({ msgID, seq: ack.seq }, 'outbox: publishing again');
        failing = false;
        if ('forged' in ack) {
          // Someone stored another message under this event's id first (ids are predictable): the SCS
          // would never see ours. It goes out again under the next number, which is ours alone so far.
          this.forgedDuplicates++;
          const again = this.#renumber(entry.built);
          this.log.error({ msgID, storedSeq: ack.seq, republishedAs: again.msgID, forgedDuplicates: this.forgedDuplicates }, 'outbox: event id taken by another message (pre-published?); published again under a new number');
          entry.built = again;
          continue;
        }
        if (event.type === 'LcaStarted') this.#incarnation = ack.seq;
        else this.#lastStoredN = event.n;
        this.#queue.shift();
        this.log.debug({ msgID, seq: ack.seq, type: event.type, duplicate: ack.duplicate }, 'event stored');
        try {
          entry.onStored?.(ack.seq, event);
        } catch (e) {
          this.log.error({ err: (e as Error).message }, 'outbox: onStored failed');
        }
        entry.resolve({ seq: ack.seq, event });
      }
    } finally {
      this.#running = false;
      if (this.#queue.length === 0) for (const f of this.#idle.splice(0)) f();
    }
  }
}
