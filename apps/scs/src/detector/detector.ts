import type { Heartbeat } from '@ha/events';

/** What the detector needs to know of the projected state. */
export type HostView = { id: string; lca: 'up' | 'lost' | 'unknown' | 'drained'; lostAt: number | null };

/**
 * What the detector keeps of a host's last heartbeat: not its application snapshots. Kept for about
 * a second each, 10,000 hosts' full heartbeats (about 1 KB each) lived long enough to be moved to
 * the old generation, 10 MB a second of it, and the SCS's heap grew with them.
 */
export type HeartbeatCore = Pick<Heartbeat, 'host' | 'lca' | 'n'>;
export type LastHeartbeat = { hb: HeartbeatCore; seq: number; at: number; mono: number };

export type Observation =
  | { kind: 'lost'; host: string; evidence: LastHeartbeat | null; silenceMs: number }
  | { kind: 'returned'; host: string; evidence: LastHeartbeat };

const copyOf = (l: LastHeartbeat): LastHeartbeat => ({ hb: { ...l.hb }, seq: l.seq, at: l.at, mono: l.mono });

/** Returned hosts first (in host order), then lost ones, the longest silent first (a stable sort). */
const byUrgency = (a: Observation, b: Observation): number => {
  if (a.kind === 'returned') return b.kind === 'returned' ? 0 : -1;
  if (b.kind === 'returned') return 1;
  return b.silenceMs - a.silenceMs;
};

/**
 * Watches stored heartbeats on the detector's own monotonic clock and concludes host lost or
 * returned. Impure by nature (it reads time), so it lives outside the decider and records its
 * conclusions in the log. Every host gets a full `hostTimeoutMs` after the detector starts acting,
 * after a reconnect, and after a late tick (a paused process), instead of being declared lost.
 */
export class Detector {
  readonly last = new Map<string, LastHeartbeat>();
  #graceFrom = 0;
  #lastTick = 0;
  /** Hosts declared lost by us, keyed to the heartbeat seq the verdict was based on. */
  readonly #declared = new Map<string, number>();
  /** Hosts reported returned, keyed to the loss (its `lostAt`) they end. */
  readonly #returned = new Map<string, number>();
  /** Each host's last `LcaResumed` as the projection applied it: a sign of life with an event number. */
  readonly #resumed = new Map<string, { lca: number; n: number; at: number; mono: number }>();
  /** Heartbeats stored but not read by us yet, as of the last one read; and when it was last small. */
  #backlog = 0;
  #caughtUpAt = 0;

  constructor(
    private hostTimeoutMs: number,
    readonly tickMs: number,
  ) {}

  setTimeout(ms: number): void {
    this.hostTimeoutMs = ms;
  }

  /** A heartbeat was stored (`at` = JetStream time) and seen at `mono`. */
  heartbeat(hb: HeartbeatCore, seq: number, at: number, mono: number): void {
    const prev = this.last.get(hb.host);
    if (!prev) {
      this.last.set(hb.host, { hb: { host: hb.host, lca: hb.lca, n: hb.n }, seq, at, mono });
      return;
    }
    if (prev.seq >= seq) return;
    // In place: a new record a heartbeat lived a second, long enough to be promoted to the old
    // generation (10,000 a second). Verdicts carry copies (`evidence`).
    prev.hb.lca = hb.lca;
    prev.hb.n = hb.n;
    prev.seq = seq;
    prev.at = at;
    prev.mono = mono;
  }

  /**
   * The LCA of `host` recorded `LcaResumed` (event `n` of incarnation `lca`, stored at `at`), seen at
   * `mono`. The decider ignores a `HostLost` whose evidence is older than that event (the LCA checked
   * its host's observations before it: decision 0003), so the LCA's silence counts from here, and a
   * verdict names this event as its evidence. An LCA that dies after its `LcaResumed` and before its
   * next stored heartbeat was otherwise never declared lost.
   */
  resumed(host: string, lca: number, n: number, at: number, mono: number): void {
    const prev = this.#resumed.get(host);
    if (prev && prev.lca === lca && prev.n >= n) return;
    this.#resumed.set(host, { lca, n, at, mono });
    this.#declared.delete(host);
  }

  /** The host's last sign of life: its last heartbeat, or its last `LcaResumed` if that came after it. */
  #lastSign(host: string): LastHeartbeat | undefined {
    const hb = this.last.get(host);
    const r = this.#resumed.get(host);
    if (!r || (hb && (hb.hb.lca === null || hb.hb.lca > r.lca || (hb.hb.lca === r.lca && hb.hb.n >= r.n)))) return hb;
    return { hb: { host, lca: r.lca, n: r.n }, seq: hb?.seq ?? 0, at: Math.max(r.at, hb?.at ?? 0), mono: Math.max(r.mono, hb?.mono ?? 0) };
  }

  /** Takes back a `returned` verdict not recorded: it may be reached again. */
  forgetReturned(host: string): void {
    this.#returned.delete(host);
  }

  /**
   * How many heartbeats the store holds that our feed has not handed over yet (the server's pending
   * count on the last one read, plus those the client has buffered). While it is large, silences are
   * the feed's, not the hosts': with one heartbeat kept per host, a feed that falls a heartbeat
   * period behind finds the ones it missed replaced, and hosts seem to skip beats.
   */
  backlog(n: number): void {
    this.#backlog = n;
  }

  /** Takes back a `lost` verdict not recorded (the store could not be read): it may be reached again. */
  retract(host: string): void {
    this.#declared.delete(host);
  }

  /**
   * Checks a `lost` verdict against the host's last heartbeat in the store (`stored`, null if none):
   * a later one than the verdict's basis means our feed was behind, not the host silent. That
   * heartbeat counts as seen at `mono`, the verdict is withdrawn, and false is returned.
   */
  confirm(host: string, basisSeq: number, stored: LastHeartbeat | null, mono: number): boolean {
    if (!stored || stored.seq <= basisSeq || stored.hb.host !== host) return true;
    this.#declared.delete(host);
    this.heartbeat(stored.hb, stored.seq, stored.at, mono);
    return false;
  }

  /** The backlog that still counts as caught up: an eighth of a heartbeat round, at least 64. */
  static backlogLimit(hosts: number): number {
    return Math.max(64, hosts / 8);
  }

  /** Starts (or restarts) judging: every host gets a full timeout from now. */
  reset(mono: number): void {
    this.#graceFrom = mono;
    this.#caughtUpAt = mono;
    this.#lastTick = mono;
    this.#declared.clear();
    this.#returned.clear();
  }

  /** One tick: observations to record, hosts returned first, then hosts lost, longest silence first. `hosts` is the projected state. */
  tick(mono: number, hosts: readonly HostView[]): Observation[] {
    if (this.#lastTick !== 0 && mono - this.#lastTick > this.tickMs + Math.max(100, this.hostTimeoutMs / 4)) {
      this.reset(mono); // we were paused: nobody's silence can be trusted
      return [];
    }
    this.#lastTick = mono;
    // A feed that is catching up is not judged by, for at most half a timeout: a feed that never
    // catches up must not hide a lost host for ever (the store check before recording still guards).
    if (this.#backlog <= Detector.backlogLimit(hosts.length)) this.#caughtUpAt = mono;
    else if (mono - this.#caughtUpAt < this.hostTimeoutMs / 2) return [];
    const out: Observation[] = [];
    for (const h of hosts) {
      if (h.lca === 'drained') continue; // stopped on purpose: its silence is expected
      const last = h.lca === 'lost' ? this.last.get(h.id) : this.#lastSign(h.id);
      if (h.lca === 'lost') {
        this.#declared.delete(h.id);
        // Returned: a heartbeat stored after the host was declared lost.
        if (last && last.hb.lca !== null && h.lostAt !== null && last.at > h.lostAt && this.#returned.get(h.id) !== h.lostAt) {
          this.#returned.set(h.id, h.lostAt);
          out.push({ kind: 'returned', host: h.id, evidence: copyOf(last) });
        }
        continue;
      }
      const seenAt = Math.max(last?.mono ?? 0, this.#graceFrom);
      const silence = mono - seenAt;
      if (silence <= this.hostTimeoutMs) continue;
      const basis = last?.seq ?? 0;
      if (this.#declared.get(h.id) === basis) continue; // said once; waiting for the log
      this.#declared.set(h.id, basis);
      out.push({ kind: 'lost', host: h.id, evidence: last ? copyOf(last) : null, silenceMs: Math.round(mono - (last?.mono ?? this.#graceFrom)) });
    }
    return out.length < 2 ? out : out.sort(byUrgency);
  }
}
