import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from '@ha/bus';
import { EVENTS_STREAM, parseInput, subjects, type HostLost } from '@ha/events';
import { ConsumerLoop } from './consumerLoop.js';

/**
 * Watches what the detector concludes about this LCA's own host. A `HostLost` about this very
 * incarnation, whose evidence is not older than the LCA's last `LcaResumed`, means the SCS moves (or
 * has moved) the host's primaries away: the LCA demotes its primaries at once, even when it saw no
 * gap of its own (the detector may judge from a feed that missed stored heartbeats).
 */
export class OwnObservations {
  readonly #loop: ConsumerLoop;

  constructor(
    js: JetStreamClient,
    host: string,
    private readonly current: () => { lca: number | null; resumedN: number },
    private readonly onLost: (ev: HostLost) => void,
    log: Logger,
  ) {
    this.#loop = new ConsumerLoop(
      'own observations',
      async () => (await js.consumers.get(EVENTS_STREAM, { filter_subjects: subjects.observation(host), deliver_policy: DeliverPolicy.New })).consume({ max_messages: 16, expires: 5000 }),
      (m) => {
        const r = parseInput(m.subject, m.data);
        if (!r.ok || r.value.type !== 'HostLost' || r.value.host !== host) return;
        const { lca, resumedN } = this.current();
        const ev = r.value;
        if (lca === null || (ev.lca !== null && ev.lca !== lca)) return;
        if (ev.n !== null && ev.n < resumedN) return; // the decider ignores it too
        this.onLost(ev);
      },
      log,
    );
  }

  start(): void {
    this.#loop.start();
  }
  restart(): void {
    this.#loop.restart();
  }
  stop(): Promise<void> {
    return this.#loop.stop();
  }
}
