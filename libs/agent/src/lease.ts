import type { Role } from '@ha/events';

/** Monotonic nanoseconds (`process.hrtime.bigint()` in the application). */
export type MonoNs = bigint;

const NS_PER_MS = 1_000_000n;

/** A change of the acting state of a primary, noticed after the fact. */
export type FenceChange = Readonly<{
  fenced: boolean;
  /** When it happened: the lease's expiry for `fenced: true`, the fresh lease's receipt for `fenced: false`. */
  atNs: MonoNs;
}>;

type Lease = { kind: 'unbounded' } | { kind: 'until'; expiresNs: MonoNs };

/**
 * The application's role and primary lease (DESIGN rule 9), with time passed in: no clock, no timer.
 * The application acts as primary while its confirmed role is `primary` and it holds a lease: one
 * that says "no fencing" (`ttlMs: null`, keep-serving pairs) or whose expiry, counted from receipt on
 * the monotonic clock, is still ahead.
 */
export class RoleLease {
  #role: Role;
  #epoch = 0;
  #lease: Lease | null = null;
  /** Whether the last `notice` found a primary without a valid lease. */
  #fenced = false;
  /** When the role last became primary. */
  #primarySinceNs: MonoNs = 0n;

  constructor(role: Role = 'backup') {
    this.#role = role;
  }

  get role(): Role {
    return this.#role;
  }

  /** Epoch of the last role change (0 before any). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Expiry of a bounded lease, null when there is none or it is unbounded. */
  get expiresNs(): MonoNs | null {
    return this.#lease?.kind === 'until' ? this.#lease.expiresNs : null;
  }

  get fenced(): boolean {
    return this.#fenced;
  }

  /**
   * A lease received at `nowNs`. A lease of an epoch older than the last role change is ignored
   * (false): it was meant for an earlier term.
   */
  grant(ttlMs: number | null, epoch: number, nowNs: MonoNs): boolean {
    if (epoch < this.#epoch) return false;
    this.#lease = ttlMs === null ? { kind: 'unbounded' } : { kind: 'until', expiresNs: nowNs + BigInt(ttlMs) * NS_PER_MS };
    return true;
  }

  /**
   * The role changed at `nowNs` (a promotion once its handler ran; a demotion at once). Leaving
   * `primary` drops the lease: a later promotion needs a fresh one.
   */
  setRole(role: Role, epoch: number, nowNs: MonoNs): void {
    if (role !== 'primary') {
      this.#lease = null;
      this.#fenced = false;
    } else if (this.#role !== 'primary') {
      this.#fenced = false;
      this.#primarySinceNs = nowNs;
    }
    this.#role = role;
    this.#epoch = Math.max(this.#epoch, epoch);
  }

  /** Whether the lease alone allows acting at `nowNs`. */
  leaseValid(nowNs: MonoNs): boolean {
    const l = this.#lease;
    if (!l) return false;
    return l.kind === 'unbounded' || nowNs < l.expiresNs;
  }

  /** Primary and holding a valid lease at `nowNs`. */
  isPrimary(nowNs: MonoNs): boolean {
    return this.#role === 'primary' && this.leaseValid(nowNs);
  }

  /**
   * Compares the acting state at `nowNs` with the last one noticed: a primary that lost its lease is
   * `fenced` (since the expiry, or since its promotion if that came later), one that holds a lease
   * again after that is `fenced: false`. Demotions are not fences.
   */
  notice(nowNs: MonoNs): FenceChange | null {
    if (this.#role !== 'primary') return null;
    const fenced = !this.leaseValid(nowNs);
    if (fenced === this.#fenced) return null;
    this.#fenced = fenced;
    if (!fenced) return { fenced: false, atNs: nowNs };
    let at = this.expiresNs ?? nowNs;
    if (at > nowNs) at = nowNs;
    if (at < this.#primarySinceNs) at = this.#primarySinceNs;
    return { fenced: true, atNs: at };
  }
}
