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
  /** When the last resume check began (monotonic): one begun after a gap started covers it. */
  lastCheckStart: () => number | null;
}>;

export type HeartbeatTiming = Readonly<{ heartbeatMs: number; hostTimeoutMs: number }>;

/** Why the LCA checks its primaries before leasing again (`LcaResumed.cause`). */
export type ResumeCause = 'paused' | 'reconnected' | 'unstored';

/**
 * Publishes the host's heartbeat every `heartbeatMs` through JetStream and awaits the ack; a tick
 * that finds the previous heartbeat still in flight is skipped, never queued. A tick that comes
 * more than `hostTimeoutMs`/2 after the previous one (the process was frozen) starts `onGap` at once,
 * even with a heartbeat in flight, and no heartbeat is sent before it is done.
 * So does a heartbeat stored more than `hostTimeoutMs`/2 after the previous stored one (JetStream
 * did not store them meanwhile, though the connection may never have dropped): the detector may
 * have declared the host lost, so no lease follows that heartbeat before the check is done.
 */
export class HeartbeatLoop {
  #timing: HeartbeatTiming;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #prevTick: number | null = null;
  #stopped = false;
  #failing = false;
  /** When the last stored heartbeat was sent (monotonic). */
  #lastStoredSent: number | null = null;
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
    private readonly onGap: (gapMs: number, cause: ResumeCause) => Promise<void>,
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
    // Half the host timeout: the detector's silence also counts the time before our last tick. The
    // check starts here, whether or not a heartbeat is in flight: a process stopped between a
    // heartbeat's publish and the read of its ack wakes with its timers first, and that heartbeat
    // still in flight (its ack unread, then timed out); skipping the gap with the tick left the check
    // to the next stored heartbeat, as "unstored" (issue 10). The in-flight heartbeat grants no lease
    // meanwhile: leases wait for the check (`mayLease`) and count from when it was sent.
    if (gap > this.#timing.hostTimeoutMs / 2) {
      this.log.warn({ gapMs: gap, heartbeatInFlight: this.#inFlight }, 'heartbeat timer was late: checking primaries first');
      this.onGap(gap, 'paused').catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'check after a gap failed'));
    }
    if (this.#inFlight) return;
    this.#inFlight = true;
    void this.#beat().finally(() => {
      this.#inFlight = false;
    });
  }

  async #beat(): Promise<void> {
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
      const prev = this.#lastStoredSent;
      const unstoredMs = prev === null ? 0 : sentMono - prev;
      this.#lastStoredSent = sentMono;
      const checkedSince = prev !== null && (this.source.lastCheckStart() ?? -Infinity) > prev;
      this.lastStored = true;
      this.lastStoredMono = monoMs();
      this.sent++;
      if (this.#failing) this.log.info({ unstoredMs: Math.round(unstoredMs) }, 'heartbeats stored again');
      this.#failing = false;
      if (unstoredMs > this.#timing.hostTimeoutMs / 2 && !checkedSince) {
        this.log.warn({ unstoredMs: Math.round(unstoredMs) }, 'no heartbeat stored for a while: checking primaries before leasing again');
        await this.onGap(unstoredMs, 'unstored').catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'check after unstored heartbeats failed'));
        return;
      }
      this.onStored?.(sentMono);
    } catch (e) {
      this.lastStored = false;
      if (!this.#failing) this.log.warn({ err: (e as Error).message }, 'heartbeat not stored');
      this.#failing = true;
    }
  }
}
