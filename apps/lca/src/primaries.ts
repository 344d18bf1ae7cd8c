import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV, Logger } from '@ha/bus';
import { lastOnSubject } from '@ha/bus';
import { EVENTS_STREAM, PrimaryEntrySchema, parseInput, parseWith, pairsOf, subjects, type ClusterConfig } from '@ha/events';
import type { Outbox } from './outbox.js';
import type { Run, Supervisor } from './supervisor.js';

const parsePrimaryEntry = parseWith(PrimaryEntrySchema);

/** The pair an application belongs to: named after the member that carries `redundancy`. */
export const pairOf = (config: ClusterConfig, app: string): string | null =>
  pairsOf(config).find((p) => p.primary === app || p.backup === app)?.id ?? null;

const primaries = (supervisor: Supervisor): Array<{ app: string; run: Run }> =>
  supervisor.apps().flatMap((m) => (m.run && m.run.role === 'primary' && m.run.incarnation !== null ? [{ app: m.id, run: m.run }] : []));

/** Demotes one local primary on the LCA's own authority (no command): role backup, AppRoleChanged with command null. */
const demote = (supervisor: Supervisor, outbox: Outbox, app: string, run: Run, epoch: number): boolean => {
  // The run may have ended or changed role while the KV or the log answered.
  if (supervisor.get(app)?.run !== run || run.role !== 'primary' || run.incarnation === null) return false;
  run.role = 'backup';
  const incarnation = run.incarnation;
  void outbox
    .publish(() => ({ type: 'AppRoleChanged', app, incarnation, role: 'backup', epoch, command: null }))
    .catch(() => undefined);
  return true;
};

/**
 * After a freeze or an outage, a local primary may have been replaced while the LCA could not see
 * it: every local primary whose pair's KV entry names another application is demoted at once.
 */
export const demoteReplacedPrimaries = async (
  kv: Pick<KV, 'get'>,
  config: ClusterConfig | null,
  supervisor: Supervisor,
  outbox: Outbox,
  log: Logger,
): Promise<number> => {
  if (!config) return 0;
  let demoted = 0;
  for (const { app, run } of primaries(supervisor)) {
    const pair = pairOf(config, app);
    if (!pair) continue;
    const entry = await kv.get(pair);
    if (!entry || entry.operation !== 'PUT') continue;
    const r = parsePrimaryEntry(entry.value);
    if (!r.ok) {
      log.warn({ pair, err: r.error }, 'malformed primaries entry ignored');
      continue;
    }
    const e = r.value;
    if (e.app === app) continue;
    if (demote(supervisor, outbox, app, run, e.epoch)) {
      demoted++;
      log.warn({ app, pair, primary: e.app, epoch: e.epoch }, 'another application is the primary of this pair: demoted');
    }
  }
  return demoted;
};

/**
 * The other half of coming back (see `LcaResumed`): if the detector declared this host lost before
 * the LCA's `LcaResumed` (stored at `resumedSeq`), the SCS has moved or will move its primaries
 * away, so every local primary is demoted.
 */
export const demoteIfDeclaredLost = async (
  jsm: JetStreamManager,
  host: string,
  lca: number | null,
  resumedSeq: number,
  supervisor: Supervisor,
  outbox: Outbox,
  log: Logger,
): Promise<number> => {
  const local = primaries(supervisor);
  if (local.length === 0) return 0;
  const sm = await lastOnSubject(jsm, EVENTS_STREAM, subjects.observation(host));
  if (!sm || sm.seq > resumedSeq) return 0;
  const r = parseInput(sm.subject, sm.data);
  if (!r.ok || r.value.type !== 'HostLost') return 0;
  const lost = r.value;
  if (lost.lca !== null && lost.lca !== lca) return 0;
  let demoted = 0;
  for (const { app, run } of local) {
    if (demote(supervisor, outbox, app, run, lost.epoch)) {
      demoted++;
      log.warn({ app, hostLostSeq: sm.seq, epoch: lost.epoch }, 'this host was declared lost while the LCA was away: demoted');
    }
  }
  return demoted;
};

/** Demotes every local primary on the LCA's own authority (its host was declared lost); returns how many. */
export const demoteAll = (supervisor: Supervisor, outbox: Outbox, epoch: number): string[] =>
  primaries(supervisor).flatMap(({ app, run }) => (demote(supervisor, outbox, app, run, epoch) ? [app] : []));
