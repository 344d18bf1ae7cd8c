import { describe, expect, it } from 'vitest';
import { runChaos } from '@ha/test';

// A 60-second seeded fault run (npm run test:chaos) (2 SCS, 2 pairs of SDK counter-servers): SIGKILL and SIGSTOP of
// applications, LCAs and SCS instances, an LCA cut from NATS, nats-server and redis-server
// restarts. `npm run chaos -- --minutes 10 --seed 7` runs a longer one.
describe('chaos', () => {
  it('holds every safety invariant under 60 s of seeded faults, and recovers once they stop', async () => {
    const seed = Number(process.env['HA_CHAOS_SEED'] ?? 42);
    const report = await runChaos({ seconds: Number(process.env['HA_CHAOS_SECONDS'] ?? 60), seed, scs: 2, pairs: 2, log: () => undefined });
    expect(report.violations, JSON.stringify(report, null, 2)).toEqual([]);
    expect(Object.values(report.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(15);
    expect(report.recoveredMs).not.toBeNull();
    expect(report.switchovers).toBeGreaterThan(0);
  }, 240_000);
});
