import { describe, expect, it } from 'vitest';
import { StatusDocSchema, type StatusDoc } from '@ha/events';
import { fitStatus } from './status.js';

const doc = (hosts: number): StatusDoc => ({
  scs: { active: 'scs-1', epoch: 3, answeredBy: 'scs-1', lastSeq: 10, acting: true, caughtUp: true, logLastSeq: 10 },
  cluster: 'big',
  hosts: Array.from({ length: hosts }, (_, i) => ({ id: `host-${String(i).padStart(5, '0')}`, lca: i === hosts - 1 ? 'lost' : 'up', draining: false, lastHeartbeatAt: null, incarnation: i + 1 })),
  applications: Array.from({ length: hosts }, (_, i) => ({ id: `app-${String(i).padStart(5, '0')}`, host: `host-${String(i).padStart(5, '0')}`, status: i === hosts - 2 ? 'stopped' : 'started', role: 'backup', pid: 100 + i, restarts: 0, incarnation: i + 1, gaveUp: false, fenced: false })),
  pairs: [{ id: 'app-00000', primary: 'app-00000', backup: 'app-00001', type: 'warm', autoSwitchover: true, current: null, state: 'degraded', lastRefusal: null, lastFailure: null, paused: false }],
});
const size = (d: StatusDoc): number => Buffer.byteLength(JSON.stringify(d));

describe('a status document larger than the bus allows', () => {
  it('is answered as is when it fits', () => {
    const d = doc(10);
    expect(fitStatus(d, size(d))).toBe(d);
  });

  it('is trimmed to fit, with what needs attention first and a note saying what was left out', () => {
    const d = doc(15_000);
    const max = 64 * 1024;
    expect(size(d)).toBeGreaterThan(max);
    const f = fitStatus(d, max);
    expect(size(f)).toBeLessThanOrEqual(max);
    expect(StatusDocSchema.safeParse(f).success).toBe(true);
    expect(f.pairs).toEqual(d.pairs);
    expect(f.hosts[0]?.id).toBe('host-14999'); // the lost host first
    expect(f.hosts.length).toBeGreaterThan(100);
    expect(f.hosts.length).toBeLessThan(d.hosts.length);
    expect(f.truncated).toMatchObject({ hosts: { shown: f.hosts.length, total: 15_000 }, applications: { shown: f.applications.length, total: 15_000 }, pairs: { shown: 1, total: 1 } });
    expect(f.truncated?.note).toMatch(/over the bus's max_payload \(65536\).*GET \/status/);
    expect(f.scs).toEqual(d.scs);
  });

  it('fills applications once every host is shown, the stopped one first', () => {
    const d = doc(400);
    const f = fitStatus(d, size(d) - 2000);
    expect(f.hosts).toHaveLength(400);
    expect(f.applications[0]?.id).toBe('app-00398');
    expect(f.applications.length).toBeLessThan(400);
    expect(size(f)).toBeLessThanOrEqual(size(d) - 2000);
  });
});
