import type { Announcement, CommandAction, PrimaryEntry } from '@ha/events';

/** A command to an LCA; the runtime publishes it with `msgID = <epoch>:<id>`. */
export type CommandEffect = Readonly<{
  kind: 'command';
  id: string;
  epoch: number;
  host: string;
  app: string;
  action: CommandAction;
  lca: number;
  incarnation: number | null;
  /** The input that decided it; an LCA refuses a promote if its host was observed lost after it. */
  causeSeq: number;
}>;

/** Ask the runtime to append `TimerFired` at `at` (JetStream time, ms). */
export type TimerEffect = Readonly<{ kind: 'timer'; id: string; at: number }>;

/**
 * Announce a completed switchover. `reconcile` marks a re-announcement by a new leader: the runtime
 * publishes it only when `HA_SWITCHOVERS` does not hold it already.
 */
export type AnnounceEffect = Readonly<{ kind: 'announce'; announcement: Announcement; reconcile: boolean }>;

/** Put the pair's current primary in KV `ha_primaries`. */
export type PrimaryEffect = Readonly<{ kind: 'primary'; entry: PrimaryEntry }>;

/** Something operators must see; recorded in `HA_DECISIONS` on `ha.dec.notice`. */
export type NoticeEffect = Readonly<{
  kind: 'notice';
  notice:
    | 'restart-gave-up'
    | 'promotion-timed-out'
    | 'demotion-timed-out'
    | 'waiting-operator'
    | 'demoting-extra-primary'
    | 'switchover-accepted'
    | 'switchover-refused'
    | 'paused'
    | 'resumed';
  pair: string | null;
  app: string | null;
  detail: string;
  /** The operator request this answers. */
  requestId?: string;
}>;

export type Effect = CommandEffect | TimerEffect | AnnounceEffect | PrimaryEffect | NoticeEffect;
