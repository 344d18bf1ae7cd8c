import { describe, expect, it } from 'vitest';
import { RoleLease } from './lease.js';

const ms = (n: number): bigint => BigInt(n) * 1_000_000n;

describe('RoleLease: acting as primary on a lease, on the monotonic clock', () => {
  it('a backup never acts, whatever lease it holds', () => {
    const l = new RoleLease();
    expect(l.grant(300, 1, ms(0))).toBe(true);
    expect(l.isPrimary(ms(1))).toBe(false);
    expect(l.notice(ms(1))).toBeNull();
  });

  it('a primary acts from a lease until ttlMs after its receipt, then not (exclusive bound)', () => {
    const l = new RoleLease();
    l.grant(300, 1, ms(1000));
    l.setRole('primary', 1, ms(1000));
    expect(l.isPrimary(ms(1000))).toBe(true);
    expect(l.isPrimary(ms(1299))).toBe(true);
    expect(l.isPrimary(ms(1300) - 1n)).toBe(true);
    expect(l.isPrimary(ms(1300))).toBe(false);
    expect(l.isPrimary(ms(5000))).toBe(false);
  });

  it('a primary without any lease does not act', () => {
    const l = new RoleLease();
    l.setRole('primary', 1, ms(0));
    expect(l.isPrimary(ms(0))).toBe(false);
  });

  it('ttlMs null (keep-serving) never lapses', () => {
    const l = new RoleLease();
    l.setRole('primary', 2, ms(0));
    l.grant(null, 2, ms(0));
    expect(l.isPrimary(ms(10_000_000))).toBe(true);
    expect(l.expiresNs).toBeNull();
  });

  it('a fresh lease extends from its own receipt', () => {
    const l = new RoleLease();
    l.setRole('primary', 1, ms(0));
    l.grant(300, 1, ms(0));
    l.grant(300, 1, ms(250));
    expect(l.isPrimary(ms(500))).toBe(true);
    expect(l.isPrimary(ms(550))).toBe(false);
  });

  it('notices a lapse once (at the expiry instant) and a resumption once (at the fresh lease)', () => {
    const l = new RoleLease();
    l.grant(300, 1, ms(0));
    l.setRole('primary', 1, ms(0));
    expect(l.notice(ms(10))).toBeNull();
    expect(l.notice(ms(299))).toBeNull();
    expect(l.notice(ms(420))).toEqual({ fenced: true, atNs: ms(300) });
    expect(l.fenced).toBe(true);
    expect(l.notice(ms(500))).toBeNull();
    l.grant(300, 1, ms(900));
    expect(l.notice(ms(900))).toEqual({ fenced: false, atNs: ms(900) });
    expect(l.notice(ms(1000))).toBeNull();
    expect(l.fenced).toBe(false);
  });

  it('a promotion whose lease lapsed during its handlers is fenced from the start (its promotion)', () => {
    const l = new RoleLease();
    l.grant(100, 3, ms(0));
    l.setRole('primary', 3, ms(150));
    expect(l.notice(ms(200))).toEqual({ fenced: true, atNs: ms(150) });
  });

  it('a demotion drops the lease, is not a fence, and a later promotion needs a fresh lease', () => {
    const l = new RoleLease();
    l.grant(null, 1, ms(0));
    l.setRole('primary', 1, ms(0));
    expect(l.isPrimary(ms(1))).toBe(true);
    l.setRole('backup', 2, ms(2));
    expect(l.notice(ms(2))).toBeNull();
    expect(l.isPrimary(ms(2))).toBe(false);
    l.setRole('primary', 3, ms(3));
    expect(l.isPrimary(ms(3))).toBe(false);
    l.grant(null, 3, ms(4));
    expect(l.isPrimary(ms(4))).toBe(true);
  });

  it('ignores a lease of an epoch older than the last role change', () => {
    const l = new RoleLease();
    l.setRole('primary', 7, ms(0));
    expect(l.grant(300, 6, ms(0))).toBe(false);
    expect(l.isPrimary(ms(1))).toBe(false);
    expect(l.grant(300, 7, ms(0))).toBe(true);
    expect(l.isPrimary(ms(1))).toBe(true);
  });
});
