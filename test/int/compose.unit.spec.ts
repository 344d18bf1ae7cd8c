import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '@ha/events';
import { Cluster, demoSpec } from '@ha/test';

// No Docker engine runs in CI: this checks that docker-compose.yml describes the same cluster as
// `npm run demo` (and is well-formed), so the two cannot drift apart.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
type Service = { image?: string; command?: string[]; environment?: Record<string, string> };

describe('docker-compose.yml is the demo', () => {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
  const file = validateConfig(parse(readFileSync(join(ROOT, 'examples/demo-cluster.yaml'), 'utf8')));

  it('has JetStream NATS, Redis, two SCS and one LCA per demo host', () => {
    const s = compose.services;
    expect(s['nats']?.command).toContain('-js');
    expect(s['redis']?.image).toMatch(/^redis/);
    const scs = Object.entries(s).filter(([, v]) => v.command?.includes('apps/scs/bin/scs.js'));
    expect(scs.map(([, v]) => v.command?.[v.command.indexOf('--id') + 1])).toEqual(['scs-1', 'scs-2']);
    const lcaHosts = Object.values(s).filter((v) => v.command?.includes('apps/lca/bin/lca.js')).map((v) => v.command?.[v.command.indexOf('--host') + 1]);
    expect(lcaHosts).toEqual(demoSpec('x').hosts);
    for (const [, v] of [...scs, ...Object.entries(s).filter(([, x]) => x.command?.includes('apps/lca/bin/lca.js'))]) {
      expect(v.environment).toMatchObject({ HA_NATS_URL: 'nats://nats:4222', HA_REDIS_URL: 'redis://redis:6379' });
    }
    for (const [, v] of scs) expect(v.command).toContain('examples/demo-cluster.yaml');
  });

  it('its cluster file is valid and equals the demo cluster', () => {
    expect(file.ok).toBe(true);
    if (!file.ok) return;
    const demo = validateConfig(Cluster.config(demoSpec('examples/counter-server/dist/main.js')));
    expect(demo.ok).toBe(true);
    if (!demo.ok) return;
    expect(file.config).toEqual(demo.config);
  });
});
