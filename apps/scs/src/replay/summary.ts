import type { AppState, HostState, PairState, PendingTimer, State } from '../decider/index.js';

/**
 * The decider's state as plain data (it crosses a thread boundary): every field but the
 * configuration itself (named by `cluster` and `configSeq`) and the indexes derived from the rest.
 * Collections are keyed by id, keys sorted.
 */
export type StateSummary = Readonly<{
  epoch: number;
  active: string | null;
  deciderVersion: number;
  cluster: string | null;
  configSeq: number;
  lastSeq: number;
  counts: Readonly<{ inputs: number; ignored: number }>;
  hosts: Readonly<Record<string, HostState>>;
  apps: Readonly<Record<string, AppState>>;
  pairs: Readonly<Record<string, PairState>>;
  timers: Readonly<Record<string, PendingTimer>>;
}>;

export const summarize = (s: State): StateSummary => ({
  epoch: s.epoch,
  active: s.active,
  deciderVersion: s.deciderVersion,
  cluster: s.config?.cluster ?? null,
  configSeq: s.configSeq,
  lastSeq: s.lastSeq,
  counts: s.counts,
  hosts: s.hosts.toJSON(),
  apps: s.apps.toJSON(),
  pairs: s.pairs.toJSON(),
  timers: s.timers.toJSON(),
});
