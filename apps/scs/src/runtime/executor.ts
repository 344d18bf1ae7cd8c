import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV, Logger } from '@ha/bus';
import { lastOnSubject, monoMs, publishUnique, type ForgedDuplicate } from '@ha/bus';
import { codec, PrimaryEntrySchema, SWITCHOVERS_STREAM, subjects, type AppCommand, type Input, type PrimaryEntry, type Recorded } from '@ha/events';
import type { Effect, TimerEffect } from '../decider/index.js';

/** Gate checked right before every publish: false as soon as this SCS may no longer act. */
export type CanAct = () => boolean;

/** Pause between two attempts of an announcement or a primary entry that could not be stored. */
export const LANE_RETRY_MS = 250;
/** Attempts at a primary entry (5 s at LANE_RETRY_MS); an announcement is tried for as long as the SCS may act. */
export const PRIMARY_ATTEMPTS = 20;

/** Effects whose acks may be awaited at once (a claim over 50,000 pairs makes 50,000 commands). */
export const DEFAULT_WINDOW = 256;

/**
 * How long to wait before firing a timer: its duration as the decider set it (`at` - the input's
 * store time), counted from now, when the effect is carried out. An SCS that is behind the log (a
 * claim's backlog, a slow NATS) must not time out a command it has only just sent; an overdue timer
 * (`at` before the input, as a new leader re-arms old ones) fires at once.
 */
export const timerDelayMs = (inputAt: number, timer: Pick<TimerEffect, 'at'>): number => Math.max(0, timer.at - inputAt);

/**
 * Carries out the decider's effects for the active SCS: commands to LCAs, timers (fired back into
 * the log), announcements, KV `ha_primaries`, and a record of each in `HA_DECISIONS`.
 *
 * Effects are pipelined: each is sent in order (NATS keeps the order of one connection's publishes,
 * so JetStream stores them in that order) without waiting for the previous one's ack, with at most
 * `window` unanswered. The caller awaits `run` only for room in the window. Effects that read before
 * they write (a pair's KV entry, a re-announcement) run one at a time per pair, in order.
 */
export class Executor {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #epoch = 0;
  #inflight = 0;
  #room: (() => void)[] = [];
  readonly #lanes = new Map<string, Promise<unknown>>();
  /** Most effects ever unanswered at once. */
  peakInflight = 0;
  /** When JetStream last acknowledged one of our writes (monotonic ms; -Infinity: never). */
  lastAckAt = -Infinity;
  /** Our message ids found taken by messages of other content (pre-published to silence us); ours went out under another id. */
  forgedDuplicates = 0;
  readonly #forgedSeen = new Set<string>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly scsId: string,
    private readonly canAct: CanAct,
    private readonly log: Logger,
    private readonly window = DEFAULT_WINDOW,
  ) {}

  /** Epoch whose effects are carried out; timers of another epoch are dropped. */
  setEpoch(epoch: number): void {
    if (epoch !== this.#epoch) this.clearTimers();
    this.#epoch = epoch;
  }

  clearTimers(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Starts the input's effects in order; resolves when the last has been sent (not acked). */
  async run(rec: Recorded<Input>, effects: readonly Effect[]): Promise<void> {
    for (let i = 0; i < effects.length; i++) {
      const e = effects[i] as Effect;
      while (this.#inflight >= this.window) await new Promise<void>((r) => this.#room.push(r));
      if (!this.canAct()) {
        this.log.warn({ seq: rec.seq, effect: e.kind }, 'not acting: lease not held; effect dropped');
        return;
      }
      this.#track(rec, i, e, this.#start(rec, e));
    }
  }

  /** Resolves once every effect started so far was answered (tests, orderly stop). */
  async settled(): Promise<void> {
    while (this.#inflight > 0) await new Promise<void>((r) => this.#room.push(r));
  }

  #track(rec: Recorded<Input>, index: number, e: Effect, done: Promise<boolean>): void {
    this.#inflight++;
    if (this.#inflight > this.peakInflight) this.peakInflight = this.#inflight;
    const epoch = this.#epoch;
    // The decision record counts against the window too: it is a write like any other.
    done
      .then(
        (ok) => (ok ? this.#record(rec, index, e, epoch) : undefined),
        (err: Error) => this.log.error({ seq: rec.seq, effect: e, err: err.message }, 'effect failed'),
      )
      .finally(() => {
        this.#inflight--;
        const waiting = this.#room;
        this.#room = [];
        for (const r of waiting) r();
      });
  }

  /** Sends the effect now (commands, timers) or queues it behind the pair's earlier ones. */
  #start(rec: Recorded<Input>, e: Effect): Promise<boolean> {
    switch (e.kind) {
      case 'command': {
        const cmd: AppCommand = { type: 'AppCommand', v: 1, id: e.id, epoch: e.epoch, host: e.host, app: e.app, action: e.action, lca: e.lca, incarnation: e.incarnation, causeSeq: e.causeSeq };
        return this.#publish(subjects.command(e.host, e.app), codec.encode(cmd), `${e.epoch}:${e.id}`).then(() => {
          this.lastAckAt = monoMs();
          this.log.info({ cmd: e.id, action: e.action, app: e.app, host: e.host, epoch: e.epoch }, 'command sent');
          return true;
        });
      }
      case 'timer': {
        const old = this.#timers.get(e.id);
        if (old) clearTimeout(old);
        const epoch = this.#epoch;
        this.#timers.set(e.id, setTimeout(() => void this.#fire(e.id, epoch), timerDelayMs(rec.at, e)));
        return Promise.resolve(true);
      }
      case 'announce':
        return this.#inLane(e.announcement.pair, () => this.#announce(e), Infinity);
      case 'primary':
        // a later entry supersedes it: a bounded retry, so that a KV that keeps failing holds up no announcement
        return this.#inLane(e.entry.pair, () => this.#putPrimary(e.entry), PRIMARY_ATTEMPTS);
      case 'notice':
        this.log.warn({ notice: e.notice, pair: e.pair, app: e.app }, e.detail);
        return Promise.resolve(true);
    }
  }

  /** Publishes under `msgID`; if someone took that id with another message, ours is delivered under another (decision 0015). */
  #publish(subject: string, data: Uint8Array, msgID: string) {
    return publishUnique(this.js, this.jsm, subject, data, { msgID }, (f) => this.#forged(f));
  }

  #forged(f: ForgedDuplicate): void {
    // counted and logged once per message that took an id (a retry meets the same one again)
    const key = `${f.stream}:${f.storedSeq}`;
    if (this.#forgedSeen.has(key)) return;
    if (this.#forgedSeen.size >= 10_000) this.#forgedSeen.clear();
    this.#forgedSeen.add(key);
    this.forgedDuplicates++;
    this.log.error({ ...f, forgedDuplicates: this.forgedDuplicates }, 'message id taken by another message (pre-published?); ours published under another id');
  }

  /**
   * Runs `job` after the pair's previous lane job, checking the gate again when its turn comes. A
   * job that fails (NATS went away mid-failover) is tried again, same message ids, for as long as
   * this SCS may act: an announcement was lost when NATS was killed 30 ms after a primary crashed.
   * Once it may not, the next leader's claim re-announces from the log's state (decider `onClaim`).
   */
  #inLane(pair: string, job: () => Promise<boolean>, attempts: number): Promise<boolean> {
    const prev = this.#lanes.get(pair) ?? Promise.resolve();
    const next = prev.then(
      () => this.#persist(pair, job, attempts),
      () => this.#persist(pair, job, attempts),
    );
    this.#lanes.set(pair, next);
    void next.finally(() => {
      if (this.#lanes.get(pair) === next) this.#lanes.delete(pair);
    }).catch(() => undefined);
    return next;
  }

  async #persist(pair: string, job: () => Promise<boolean>, attempts: number): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (!this.canAct()) return false;
      try {
        return await job();
      } catch (err) {
        if (attempt >= attempts) throw err;
        if (attempt === 1) this.log.warn({ pair, err: (err as Error).message }, 'announcement or primary entry not stored; trying again while this SCS may act');
        await new Promise((r) => setTimeout(r, LANE_RETRY_MS));
      }
    }
  }

  async #announce(e: Extract<Effect, { kind: 'announce' }>): Promise<boolean> {
    const a = e.announcement;
    if (a.from.app === a.to.app) {
      // the decider names two members (completeSwitchover): a bug if not, never worth telling clients
      this.log.error({ announcement: a }, 'announcement naming the same member on both sides not published');
      return false;
    }
    if (e.reconcile) {
      const last = await lastOnSubject(this.jsm, SWITCHOVERS_STREAM, subjects.switchoverStored(a.pair)).catch(() => null);
      const prev = last ? (last.json<{ causeSeq?: number }>().causeSeq ?? -1) : -1;
      if (prev >= a.causeSeq) return false; // already announced
      if (!this.canAct()) return false;
    }
    await this.#publish(subjects.switchoverStored(a.pair), codec.encode(a), `sw:${a.pair}:${a.causeSeq}`);
    this.lastAckAt = monoMs();
    this.log.info({ pair: a.pair, from: a.from.app, to: a.to.app, reason: a.reason, causeSeq: a.causeSeq }, 'switchover announced');
    return true;
  }

  /** KV put fenced by epoch: an entry written under a later epoch is never overwritten. */
  async #putPrimary(entry: PrimaryEntry): Promise<boolean> {
    for (let i = 0; i < 5; i++) {
      const cur = await this.kv.get(entry.pair);
      if (cur && cur.operation === 'PUT') {
        const parsed = PrimaryEntrySchema.safeParse(cur.json());
        if (parsed.success && parsed.data.epoch > entry.epoch) return false;
      }
      if (!this.canAct()) return false;
      try {
        if (cur) await this.kv.update(entry.pair, codec.encode(entry), cur.revision);
        else await this.kv.create(entry.pair, codec.encode(entry));
        this.lastAckAt = monoMs();
        return true;
      } catch (e) {
        if (!(e instanceof JetStreamApiError) && !/wrong last sequence|exists/i.test((e as Error).message)) throw e;
      }
    }
    return false;
  }

  async #fire(id: string, epoch: number): Promise<void> {
    this.#timers.delete(id);
    if (!this.canAct() || epoch !== this.#epoch) return;
    const input = { type: 'TimerFired', v: 1, epoch, scs: this.scsId, timer: id } as const;
    try {
      await this.#publish(subjects.timer, codec.encode(input), `timer:${epoch}:${id}`);
      this.lastAckAt = monoMs();
    } catch (err) {
      this.log.error({ timer: id, err: (err as Error).message }, 'timer firing not stored; retrying');
      this.#timers.set(id, setTimeout(() => void this.#fire(id, epoch), 250));
    }
  }

  #record(rec: Recorded<Input>, index: number, effect: Effect, epoch: number): Promise<void> {
    const record = { v: 1, epoch, scs: this.scsId, causeSeq: rec.seq, index, effect };
    return this.#publish(subjects.decision(effect.kind), codec.encode(record), `${epoch}:${rec.seq}:${index}`).then(
      () => {
        this.lastAckAt = monoMs();
      },
      (err: Error) => this.log.warn({ err: err.message }, 'decision record not stored'),
    );
  }
}
