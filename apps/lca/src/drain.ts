import type { Logger } from '@ha/bus';
import { monoMs } from '@ha/bus';
import type { Timing } from '@ha/events';
import type { Outbox } from './outbox.js';
import type { Supervisor } from './supervisor.js';

/**
 * How long a drain waits for the SCS to move the host's primaries away: a demote and a promote may
 * each take up to `promoteTimeoutMs`, and the SCS may first have to notice a lost peer.
 */
export const drainBoundMs = (t: Pick<Timing, 'promoteTimeoutMs' | 'hostTimeoutMs'>): number => 2 * t.promoteTimeoutMs + t.hostTimeoutMs;

/** `drained`: nothing is primary any more; `bound`: the bound passed first; `interrupted`: a second signal. */
export type DrainOutcome = 'drained' | 'bound' | 'interrupted';

export type DrainDeps = Readonly<{
  outbox: Pick<Outbox, 'publish'>;
  supervisor: Pick<Supervisor, 'apps'>;
  timing: () => Pick<Timing, 'promoteTimeoutMs' | 'hostTimeoutMs'>;
  log: Logger;
}>;

/** How often the drain looks at the local roles (memory only: commands change them). */
const CHECK_MS = 20;

/** Applications of this LCA that act as primary. */
export const localPrimaries = (supervisor: Pick<Supervisor, 'apps'>): string[] =>
  supervisor.apps().flatMap((m) => (m.run && !m.run.stopping && m.run.role === 'primary' ? [m.id] : []));

/**
 * The first half of a graceful stop (SIGTERM): records `LcaDraining`, so that the SCS switches the
 * host's primaries over and starts nothing more here, then waits, carrying out commands as usual,
 * until no local application is primary, the bound passes, or `interrupt()` (a second signal).
 */
export class Drain {
  #interrupted = false;
  #wake: (() => void) | undefined;

  constructor(private readonly d: DrainDeps) {}

  get interrupted(): boolean {
    return this.#interrupted;
  }

  interrupt(): void {
    this.#interrupted = true;
    this.#wake?.();
  }

  async run(): Promise<DrainOutcome> {
    const { outbox, supervisor, log } = this.d;
    const boundMs = drainBoundMs(this.d.timing());
    const until = monoMs() + boundMs;
    void outbox.publish(() => ({ type: 'LcaDraining' })).catch(() => undefined);
    const first = localPrimaries(supervisor);
    log.info({ primaries: first, boundMs }, first.length > 0 ? 'draining: waiting until the SCS moves the primaries away' : 'draining: nothing is primary');
    for (;;) {
      if (this.#interrupted) {
        log.warn({ primaries: localPrimaries(supervisor) }, 'drain interrupted by a second signal: stopping now');
        return 'interrupted';
      }
      const now = localPrimaries(supervisor);
      if (now.length === 0) {
        log.info({ demoted: first }, 'drained: no application is primary');
        return 'drained';
      }
      const left = until - monoMs();
      if (left <= 0) {
        log.warn({ primaries: now, boundMs }, 'drain bound passed with applications still primary: stopping them anyway');
        return 'bound';
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(CHECK_MS, left));
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }
}
