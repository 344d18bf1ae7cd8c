import type { JetStreamClient } from '@nats-io/jetstream';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV, Logger } from '@ha/bus';
import { lastOnSubject } from '@ha/bus';
import type { JetStreamManager } from '@nats-io/jetstream';
import { codec, PrimaryEntrySchema, SWITCHOVERS_STREAM, subjects, type AppCommand, type Input, type PrimaryEntry, type Recorded } from '@ha/events';
import type { Effect } from '../decider/index.js';

/** Gate checked right before every publish: false as soon as this SCS may no longer act. */
export type CanAct = () => boolean;

/**
 * Carries out the decider's effects for the active SCS: commands to LCAs, timers (fired back into
 * the log), announcements, KV `ha_primaries`, and a record of each in `HA_DECISIONS`.
 */
export class Executor {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #epoch = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly kv: KV,
    private readonly scsId: string,
    private readonly canAct: CanAct,
    private readonly log: Logger,
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

  async run(rec: Recorded<Input>, effects: readonly Effect[]): Promise<void> {
    for (let i = 0; i < effects.length; i++) {
      const e = effects[i] as Effect;
      if (!this.canAct()) {
        this.log.warn({ seq: rec.seq, effect: e.kind }, 'not acting: lease not held; effect dropped');
        return;
      }
      try {
        const done = await this.#carry(rec, e);
        if (done) this.#record(rec, i, e);
      } catch (err) {
        this.log.error({ seq: rec.seq, effect: e, err: (err as Error).message }, 'effect failed');
      }
    }
  }

  async #carry(rec: Recorded<Input>, e: Effect): Promise<boolean> {
    const epoch = this.#epoch;
    switch (e.kind) {
      case 'command': {
        const cmd: AppCommand = { type: 'AppCommand', v: 1, id: e.id, epoch: e.epoch, host: e.host, app: e.app, action: e.action, lca: e.lca, incarnation: e.incarnation, causeSeq: e.causeSeq };
        await this.js.publish(subjects.command(e.host, e.app), codec.encode(cmd), { msgID: `${e.epoch}:${e.id}` });
        this.log.info({ cmd: e.id, action: e.action, app: e.app, host: e.host, epoch: e.epoch }, 'command sent');
        return true;
      }
      case 'timer': {
        const old = this.#timers.get(e.id);
        if (old) clearTimeout(old);
        const delay = Math.max(0, e.at - Date.now());
        this.#timers.set(e.id, setTimeout(() => void this.#fire(e.id, epoch), delay));
        return true;
      }
      case 'announce': {
        const a = e.announcement;
        if (e.reconcile) {
          const last = await lastOnSubject(this.jsm, SWITCHOVERS_STREAM, subjects.switchoverStored(a.pair)).catch(() => null);
          const prev = last ? (last.json<{ causeSeq?: number }>().causeSeq ?? -1) : -1;
          if (prev >= a.causeSeq) return false; // already announced
        }
        await this.js.publish(subjects.switchoverStored(a.pair), codec.encode(a), { msgID: `sw:${a.pair}:${a.causeSeq}` });
        this.log.info({ pair: a.pair, from: a.from.app, to: a.to.app, reason: a.reason, causeSeq: a.causeSeq }, 'switchover announced');
        return true;
      }
      case 'primary':
        return this.#putPrimary(e.entry);
      case 'notice':
        this.log.warn({ notice: e.notice, pair: e.pair, app: e.app }, e.detail);
        return true;
    }
  }

  /** KV put fenced by epoch: an entry written under a later epoch is never overwritten. */
  async #putPrimary(entry: PrimaryEntry): Promise<boolean> {
    for (let i = 0; i < 5; i++) {
      const cur = await this.kv.get(entry.pair);
      if (cur && cur.operation === 'PUT') {
        const parsed = PrimaryEntrySchema.safeParse(cur.json());
        if (parsed.success && parsed.data.epoch > entry.epoch) return false;
      }
      try {
        if (cur) await this.kv.update(entry.pair, codec.encode(entry), cur.revision);
        else await this.kv.create(entry.pair, codec.encode(entry));
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
      await this.js.publish(subjects.timer, codec.encode(input), { msgID: `timer:${epoch}:${id}` });
    } catch (err) {
      this.log.error({ timer: id, err: (err as Error).message }, 'timer firing not stored; retrying');
      this.#timers.set(id, setTimeout(() => void this.#fire(id, epoch), 250));
    }
  }

  #record(rec: Recorded<Input>, index: number, effect: Effect): void {
    const record = { v: 1, epoch: this.#epoch, scs: this.scsId, causeSeq: rec.seq, index, effect };
    this.js
      .publish(subjects.decision(effect.kind), codec.encode(record), { msgID: `${this.#epoch}:${rec.seq}:${index}` })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'decision record not stored'));
  }
}
