import type { Logger } from '@ha/bus';
import { monoMs } from '@ha/bus';
import { codec, subjects, type AppSnapshot, type Heartbeat } from '@ha/events';
import type { Publisher } from './outbox.js';

export type HeartbeatSource = Readonly<{
  incarnation: () => number | null;
  lastStoredN: () => number;
  apps: () => AppSnapshot[];
  /** False while the NATS connection is down: a heartbeat buffered now would arrive stale. */
  connected: () => boolean;
  /** The resume check under way, if any: no heartbeat is stored before it is done (DESIGN note 0003). */
  resuming: () => Promise<void> | undefined;
}>;

export type HeartbeatTiming = Readonly<{ heartbeatMs: number; hostTimeoutMs: number }>;

/**
 * Publishes the host's heartbeat every `heartbeatMs` through JetStream and awaits the ack; a tick
 * that finds the previous heartbeat still in flight is skipped, never queued. A tick that comes
 * more than `hostTimeoutMs`/2 after the previous one (the process was frozen) first runs `onGap`.
 */
export class HeartbeatLoop {
  #timing: HeartbeatTiming;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #prevTick: number | null = null;
  #stopped = false;
  #failing = false;
  /** Monotonic time of the last heartbeat JetStream stored (for self-fencing). */
  lastStoredMono: number | null = null;
  /** Whether the last heartbeat attempt was stored. */
  lastStored = false;
  /** Called once a heartbeat was stored, with the monotonic time at which it was sent (SDK leases, appLink.ts). */
  onStored: ((sentMono: number) => void) | undefined;
  sent = 0;

  constructor(
    private readonly js: Publisher,
    private readonly host: string,
    private readonly source: HeartbeatSource,
    private readonly log: Logger,
    timing: HeartbeatTiming,
    private readonly onGap: (gapMs: number) => Promise<void>,
  ) {
    this.#timing = timing;
  }

  setTiming(t: HeartbeatTiming): void {
    this.#timing = t;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#tick(), ms);
  }

  #tick(): void {
    const now = monoMs();
    const gap = this.#prevTick === null ? 0 : now - this.#prevTick;
    this.#prevTick = now;
    this.#schedule(this.#timing.heartbeatMs);
    if (this.#inFlight) return;
    this.#inFlight = true;
    void this.#beat(gap).finally(() => {
      this.#inFlight = false;
    });
  }

  async #beat(gap: number): Promise<void> {
    // Half the host timeout: the detector's silence also counts the time before our last tick.
    if (gap > this.#timing.hostTimeoutMs / 2) {
      this.log.warn({ gapMs: gap }, 'heartbeat timer was late: checking primaries first');
      try {
        await this.onGap(gap);
      } catch (e) {
        this.log.error({ err: (e as Error).message }, 'check after a gap failed');
      }
    }
    const resuming = this.source.resuming();
    if (resuming) await resuming.catch(() => undefined);
    if (!this.source.connected()) {
      this.lastStored = false;
      return;
    }
    const hb: Heartbeat = {
      type: 'Heartbeat',
      v: 1,
      host: this.host,
      lca: this.source.incarnation(),
      n: this.source.lastStoredN(),
      pid: process.pid,
      apps: this.source.apps(),
    };
    const sentMono = monoMs();
    try {
      await this.js.publish(subjects.heartbeat(this.host), codec.encode(hb), { timeout: Math.max(this.#timing.heartbeatMs, 100) });
      this.lastStored = true;
      this.lastStoredMono = monoMs();
      this.sent++;
      if (this.#failing) this.log.info('heartbeats stored again');
      this.#failing = false;
      this.onStored?.(sentMono);
    } catch (e) {
      this.lastStored = false;
      if (!this.#failing) this.log.warn({ err: (e as Error).message }, 'heartbeat not stored');
      this.#failing = true;
    }
  }
}
