import { z } from 'zod';
import { isToken } from './subjects.js';

const id = z.string().refine(isToken, { message: 'must be letters, digits, "-" or "_"' });
const ms = z.number().int().positive();

export const TimingSchema = z
  .object({
    heartbeatMs: ms.default(250),
    hostTimeoutMs: ms.default(1000),
    fenceMs: ms.default(600),
    appPingMs: ms.default(250),
    appTimeoutMs: ms.default(1000),
    leaseMs: ms.default(2000),
    scsTimeoutMs: ms.default(1000),
    promoteTimeoutMs: ms.default(2000),
  })
  .strict();

export const RestartSchema = z
  .object({
    initialDelayMs: ms.default(250),
    maxDelayMs: ms.default(30000),
    /** 0 = keep trying. */
    maxAttempts: z.number().int().min(0).default(0),
  })
  .strict();

/**
 * How the LCA judges an application beyond its process: `process` (exit only), `sdk` (the
 * application links `libs/agent`: pings, status reports, confirmed roles, self-fencing), or a probe
 * for applications without the SDK: `tcp` (connect to `address`, default the endpoint), `http`
 * (GET `url`, default `http://<endpoint>/`, 2xx = healthy) or `exec` (`command` exits 0).
 */
export const ProbeSchema = z
  .object({
    kind: z.enum(['process', 'sdk', 'tcp', 'http', 'exec']).default('process'),
    intervalMs: ms.default(500),
    timeoutMs: ms.default(1000),
    /** Consecutive failed probes that make the application failed (`probe-failed`). */
    failures: z.number().int().positive().default(3),
    /**
     * How long a new run of a probed application may take to pass its first probe: it is `starting`
     * (neither promoted nor an available backup) until then, and its failures count only once this
     * much time has passed without a success (Kubernetes' start-up probe, Pacemaker's start timeout).
     */
    startupMs: ms.default(30_000),
    address: z.string().optional(),
    url: z.string().optional(),
    command: z.array(z.string()).min(1).optional(),
  })
  .strict();

export const RedundancySchema = z
  .object({
    backup: id,
    type: z.enum(['warm', 'hot']).default('warm'),
    autoSwitchover: z.boolean().default(true),
    /**
     * When an SDK primary's LCA is lost: `fence` (default) it stops acting as primary once its lease
     * lapses (rule 9); `keep-serving` it keeps serving and the backup's peer check alone prevents a
     * second primary (rule 8).
     */
    whenAgentLost: z.enum(['fence', 'keep-serving']).default('fence'),
  })
  .strict();

export const ApplicationSchema = z
  .object({
    id,
    host: id,
    command: z.array(z.string()).min(1),
    /** What clients connect to, `host:port`. */
    endpoint: z.string().min(1).optional(),
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).optional(),
    probe: ProbeSchema.default(ProbeSchema.parse({})),
    redundancy: RedundancySchema.optional(),
    /** Run by the LCA (no shell) before confirming a promotion / demotion; non-zero exit refuses it. */
    onPromote: z.array(z.string()).min(1).optional(),
    onDemote: z.array(z.string()).min(1).optional(),
    /** Run by the LCA before a promotion of this application: non-zero exit refuses it (rule 8). */
    precondition: z.array(z.string()).min(1).optional(),
  })
  .strict();

export const ClusterConfigSchema = z
  .object({
    cluster: id,
    timing: TimingSchema.default(TimingSchema.parse({})),
    restart: RestartSchema.default(RestartSchema.parse({})),
    hosts: z.array(z.object({ id }).strict()).min(1),
    applications: z.array(ApplicationSchema).default([]),
  })
  .strict();

/** A validated cluster configuration with every default filled in. */
export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;
export type Timing = ClusterConfig['timing'];
export type ApplicationConfig = ClusterConfig['applications'][number];

/** A redundant pair, named after the application that carries `redundancy`. */
export type PairConfig = Readonly<{
  id: string;
  primary: string;
  backup: string;
  type: 'warm' | 'hot';
  autoSwitchover: boolean;
}>;

export const pairsOf = (config: ClusterConfig): PairConfig[] =>
  config.applications.flatMap((a) =>
    a.redundancy
      ? [{ id: a.id, primary: a.id, backup: a.redundancy.backup, type: a.redundancy.type, autoSwitchover: a.redundancy.autoSwitchover }]
      : [],
  );

/**
 * What the SCS keeps of a configuration once it is applied: what its decisions and its status
 * read (the cluster's name, timings, restart policy, hosts, each application's id and endpoint).
 * The rest (commands, probes, environments, hooks) is the LCAs', and stays in the log: with 100,000
 * applications it is tens of MB of objects that the SCS never reads (decision 0013).
 */
export type ConfigPolicy = Readonly<{
  cluster: string;
  timing: Readonly<Timing>;
  restart: Readonly<ClusterConfig['restart']>;
  hosts: readonly Readonly<{ id: string }>[];
  /** In the configuration's order. */
  applications: readonly Readonly<{ id: string; endpoint: string | null }>[];
}>;

export const policyOf = (c: ClusterConfig): ConfigPolicy => ({
  cluster: c.cluster,
  timing: { ...c.timing },
  restart: { ...c.restart },
  hosts: c.hosts.map((h) => ({ id: h.id })),
  applications: c.applications.map((a) => ({ id: a.id, endpoint: a.endpoint ?? null })),
});

/** Slack kept between the self-fencing bound and `hostTimeoutMs` (DESIGN rule 9). */
export const fenceMargin = (t: Timing): number => Math.ceil(t.heartbeatMs / 2);

const pathOf = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0
    ? '(root)'
    : path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');

export type ConfigResult = { ok: true; config: ClusterConfig } | { ok: false; errors: string[] };

/**
 * Validates a parsed cluster file. Every error names the path of the bad field, e.g.
 * `applications[1].redundancy.backup: no application "x"`.
 */
export const validateConfig = (raw: unknown): ConfigResult => {
  const parsed = ClusterConfigSchema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`) };
  }
  const c = parsed.data;
  const errors: string[] = [];
  const hosts = new Set<string>();
  c.hosts.forEach((h, i) => {
    if (hosts.has(h.id)) errors.push(`hosts[${i}].id: duplicate host "${h.id}"`);
    hosts.add(h.id);
  });
  const apps = new Map<string, ApplicationConfig>();
  c.applications.forEach((a, i) => {
    if (apps.has(a.id)) errors.push(`applications[${i}].id: duplicate application "${a.id}"`);
    apps.set(a.id, a);
    if (!hosts.has(a.host)) errors.push(`applications[${i}].host: no host "${a.host}" in hosts`);
    if (a.probe.kind === 'tcp' && !a.probe.address && !a.endpoint) errors.push(`applications[${i}].probe.address: a tcp probe needs an address or the application's endpoint`);
    if (a.probe.kind === 'http' && !a.probe.url && !a.endpoint) errors.push(`applications[${i}].probe.url: an http probe needs a url or the application's endpoint`);
    if (a.probe.kind === 'exec' && !a.probe.command) errors.push(`applications[${i}].probe.command: an exec probe needs a command`);
    if (a.probe.timeoutMs > a.probe.intervalMs * a.probe.failures) errors.push(`applications[${i}].probe.timeoutMs: must not exceed intervalMs × failures`);
  });
  const inPair = new Map<string, string>();
  c.applications.forEach((a, i) => {
    const r = a.redundancy;
    if (!r) return;
    const at = `applications[${i}].redundancy`;
    const b = apps.get(r.backup);
    if (r.type === 'hot') errors.push(`${at}.type: hot standby is not supported yet; use "warm"`);
    if (!b) errors.push(`${at}.backup: no application "${r.backup}"`);
    else if (b.id === a.id) errors.push(`${at}.backup: an application cannot back itself up`);
    else if (b.host === a.host) errors.push(`${at}.backup: "${b.id}" runs on the same host "${a.host}" as its primary`);
    else if (b.redundancy) errors.push(`${at}.backup: "${b.id}" is itself the primary of a pair`);
    for (const m of [a.id, r.backup]) {
      const other = inPair.get(m);
      if (other !== undefined) errors.push(`${at}: "${m}" is already in pair "${other}"`);
      inPair.set(m, a.id);
    }
  });
  const t = c.timing;
  if (t.fenceMs + t.heartbeatMs + fenceMargin(t) > t.hostTimeoutMs) {
    errors.push(
      `timing.fenceMs: fenceMs + heartbeatMs + margin (${t.fenceMs} + ${t.heartbeatMs} + ${fenceMargin(t)}) must not exceed hostTimeoutMs (${t.hostTimeoutMs})`,
    );
  }
  if (t.appPingMs >= t.appTimeoutMs) errors.push(`timing.appPingMs: must be below appTimeoutMs (${t.appTimeoutMs})`);
  if (t.heartbeatMs >= t.hostTimeoutMs) errors.push(`timing.heartbeatMs: must be below hostTimeoutMs (${t.hostTimeoutMs})`);
  if (t.scsTimeoutMs >= t.leaseMs) errors.push(`timing.scsTimeoutMs: must be below leaseMs (${t.leaseMs})`);
  if (c.restart.initialDelayMs > c.restart.maxDelayMs) errors.push('restart.initialDelayMs: must not exceed restart.maxDelayMs');
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: c };
};
