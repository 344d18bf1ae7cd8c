import type { ClusterSpec } from './cluster.js';

/** The demo's cluster: two warm pairs of counter-servers (SDK); `examples/demo-cluster.yaml` and `docker-compose.yml` describe the same one. */
export const demoSpec = (serverPath: string, dir?: string): ClusterSpec => ({
  cluster: 'demo',
  ...(dir ? { dir } : {}),
  scsHttp: true,
  portBase: 17000,
  hosts: ['host-a', 'host-b', 'host-c'],
  pairs: [
    { primary: 'web-a', backup: 'web-b', primaryHost: 'host-a', backupHost: 'host-b' },
    { primary: 'api-b', backup: 'api-c', primaryHost: 'host-b', backupHost: 'host-c' },
  ],
  command: ['node', serverPath, '--port', '{port}'],
  app: () => ({ probe: { kind: 'sdk' } }),
  timing: { heartbeatMs: 250, hostTimeoutMs: 1000, fenceMs: 600, appPingMs: 250, appTimeoutMs: 1000, leaseMs: 2000, scsTimeoutMs: 1000, promoteTimeoutMs: 2000 },
  restart: { initialDelayMs: 500, maxDelayMs: 10_000, maxAttempts: 0 },
});
