import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { Logger } from '@ha/bus';
import { lastOnSubject, monoMs, sleep } from '@ha/bus';
import { COMMANDS_STREAM, commandConsumerName, EVENTS_STREAM, parseCommand, subjects, type AppCommand, type CommandRefused } from '@ha/events';
import type { EventBody, Outbox } from './outbox.js';
import type { Supervisor } from './supervisor.js';
import { ConsumerLoop } from './consumerLoop.js';
import type { ClaimTracker } from './claims.js';
import type { CommandGate } from './hooks.js';
import type { AppLinks } from './appLink.js';

/** Durable consumer name of a host's LCA on `HA_COMMANDS` (the permissions grant exactly this one). */
export const consumerName = commandConsumerName;

/** Outcome of one command, for logs and tests. */
export type Outcome = 'done' | 'refused' | 'ignored';

/**
 * Carries out the active SCS's commands. A command counts only under the latest epoch (the sequence
 * of the last claim in `HA_EVENTS`, read for every command: the LCA learns epochs from claims, never
 * from commands) and only for the incarnations it names.
 */
export class CommandProcessor {
  constructor(
    private readonly host: string,
    private readonly jsm: JetStreamManager,
    private readonly supervisor: Supervisor,
    private readonly outbox: Outbox,
    private readonly log: Logger,
    private readonly claims: ClaimTracker,
    /** Drain refusals and the hooks of applications without the SDK (hooks.ts). */
    private readonly gate: CommandGate | null = null,
    /** Role changes of SDK applications, confirmed by the application itself (appLink.ts). */
    private readonly sdk: Pick<AppLinks, 'handles' | 'changeRole'> | null = null,
  ) {}

  async currentEpoch(): Promise<number> {
    return this.claims.currentEpoch();
  }

  /** Sequence of the last observation (HostLost/HostReturned) of this host in the log, 0 if none. */
  async lastObservation(): Promise<number> {
    return (await lastOnSubject(this.jsm, EVENTS_STREAM, subjects.observation(this.host)))?.seq ?? 0;
  }

  /** Handles one parsed command; resolves once its event (if any) was stored. */
  async handle(cmd: AppCommand): Promise<Outcome> {
    // Commands left for an earlier incarnation (the durable consumer keeps them) are not ours to answer.
    const lca = this.outbox.incarnation;
    if (cmd.host !== this.host || cmd.lca !== lca) {
      this.log.info({ command: cmd.id, host: cmd.host, lca: cmd.lca, ours: lca }, 'command for another LCA incarnation ignored');
      return 'ignored';
    }
    // Read before acting: nothing below awaits until the state has been changed (but for a role
    // change's hooks, after which the run and the epoch are checked again).
    const [epoch, observed] = await Promise.all([this.currentEpoch(), cmd.action === 'promote' ? this.lastObservation() : Promise.resolve(0)]);
    const refuse = async (reason: string, kind: CommandRefused['kind'] = 'refused'): Promise<Outcome> => {
      this.log.warn({ command: cmd.id, app: cmd.app, action: cmd.action, reason, kind }, 'command refused');
      await this.outbox.publish(() => ({ type: 'CommandRefused', app: cmd.app, command: cmd.id, reason, kind }));
      return 'refused';
    };
    if (cmd.epoch !== epoch) return refuse(`stale epoch ${cmd.epoch}, current ${epoch}`);
    const m = this.supervisor.get(cmd.app);
    if (!m || !m.inConfig) return refuse(`unknown application ${cmd.app}`);
    const denied = this.gate?.admit(cmd);
    if (denied) return refuse(denied.reason, denied.kind);
    if (cmd.action === 'start') {
      const r = this.supervisor.start(cmd.app, cmd.id);
      return r.ok ? 'done' : refuse(r.reason);
    }
    const run = m.run;
    if (!run || run.stopping) return refuse('not running');
    if (run.incarnation === null) return refuse('starting: its AppStarted is not stored yet');
    if (run.incarnation !== cmd.incarnation) {
      return refuse(`incarnation mismatch: running ${run.incarnation ?? 'unknown'}, command for ${cmd.incarnation ?? 'none'}`);
    }
    // A promote decided before this host was observed lost (or back) may rest on a stale view.
    if (cmd.action === 'promote' && observed > cmd.causeSeq) return refuse('host observed lost after this command');
    const incarnation = run.incarnation;
    switch (cmd.action) {
      case 'promote':
      case 'demote': {
        const role = cmd.action === 'promote' ? 'primary' : 'backup';
        if (run.role !== role && this.gate) {
          const gated = await this.gate.beforeRoleChange(m, run, cmd);
          if (gated) return refuse(gated.reason, gated.kind);
          if (m.run !== run || run.stopping) return refuse(`exited during the ${cmd.action}`);
          // The hooks may have run for up to promoteTimeoutMs: the promotion counts only if its epoch
          // is still the latest once they are done (a new SCS may have claimed meanwhile).
          if (cmd.action === 'promote' && this.gate.hooksPromotion(m)) {
            const now = await this.currentEpoch().catch(() => null);
            if (now !== cmd.epoch) {
              await this.gate.undoPromotion(m, run, cmd);
              return refuse(now === null ? 'cannot read the epoch after the promotion\'s hooks' : `stale epoch ${cmd.epoch} after the promotion's hooks, current ${now}`);
            }
          }
        }
        if (this.sdk?.handles(m)) {
          const r = await this.sdk.changeRole(m, run, cmd, role);
          if (!r.ok) return refuse(r.reason, r.kind);
          if (m.run !== run || run.stopping) return refuse(`exited during the ${cmd.action}`);
        }
        run.role = role;
        this.log.info({ app: cmd.app, role, epoch: cmd.epoch, command: cmd.id }, 'role changed');
        const body: EventBody = { type: 'AppRoleChanged', app: cmd.app, incarnation, role, epoch: cmd.epoch, command: cmd.id };
        await this.outbox.publish(() => body);
        return 'done';
      }
      case 'stop':
        void this.supervisor.stop(cmd.app);
        return 'done';
    }
  }
}

/** Commands being carried out at once, over all applications of the host. */
export const MAX_COMMANDS_IN_FLIGHT = 64;

/**
 * Reads `ha.cmd.<host>.>` through the durable pull consumer `lca-<host>` (explicit ack, created with
 * DeliverPolicy.New, so a restarted LCA resumes where the consumer was). Garbage is logged, counted
 * and acked; nothing in a message can stop the loop.
 *
 * Commands are carried out in order for each application, and the applications of the host are
 * served side by side: a slow `onPromote`, peer check or SDK handler of one (up to
 * `promoteTimeoutMs`) must not hold up the promotions of the others when their host is lost.
 */
export class CommandConsumer {
  malformed = 0;
  handled = 0;
  readonly #loop: ConsumerLoop;
  /** Ids of commands already carried out, so that a redelivery (a lost ack) does not act twice. */
  readonly #seen: string[] = [];
  /** The last command of each application being carried out (the next one waits for it). */
  readonly #lanes = new Map<string, Promise<void>>();
  #inFlight = 0;
  #room: (() => void)[] = [];

  constructor(
    private readonly host: string,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly processor: CommandProcessor,
    private readonly log: Logger,
  ) {
    this.#loop = new ConsumerLoop(
      'command consumer',
      async () => (await this.js.consumers.get(COMMANDS_STREAM, await this.ensureConsumer())).consume({ max_messages: 16, expires: 5000 }),
      (m) => this.#one(m),
      log,
    );
  }

  start(): void {
    this.#loop.start();
  }

  /** Re-creates the subscription at once (after a reconnect) instead of waiting for the client to notice. */
  restart(): void {
    this.#loop.restart();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    await Promise.all([...this.#lanes.values()]);
  }

  /**
   * Creates the durable consumer if missing. Called before `LcaStarted` is published: a command
   * sent right after it (DeliverPolicy.New) must find the consumer already there.
   */
  async ensureConsumer(): Promise<string> {
    const name = consumerName(this.host);
    try {
      await this.jsm.consumers.info(COMMANDS_STREAM, name);
    } catch (e) {
      if (!(e instanceof JetStreamApiError) || e.code !== JetStreamApiCodes.ConsumerNotFound) throw e;
      await this.jsm.consumers.add(COMMANDS_STREAM, {
        durable_name: name,
        filter_subject: subjects.commandsForHost(this.host),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
      });
    }
    return name;
  }

  async #one(m: JsMsg): Promise<void> {
    const parsed = parseCommand(m.data);
    if (!parsed.ok) {
      this.malformed++;
      this.log.warn({ subject: m.subject, seq: m.seq, err: parsed.error, malformed: this.malformed }, 'malformed command skipped');
      m.ack();
      return;
    }
    const cmd = parsed.value;
    while (this.#inFlight >= MAX_COMMANDS_IN_FLIGHT) await new Promise<void>((r) => this.#room.push(r));
    this.#inFlight++;
    const prev = this.#lanes.get(cmd.app) ?? Promise.resolve();
    const run = () => this.#carryOut(m, cmd).catch((e: unknown) => this.log.error({ command: cmd.id, err: (e as Error).message }, 'command failed'));
    const lane = prev.then(run, run).finally(() => {
      if (this.#lanes.get(cmd.app) === lane) this.#lanes.delete(cmd.app);
      this.#inFlight--;
      for (const r of this.#room.splice(0)) r();
    });
    this.#lanes.set(cmd.app, lane);
  }

  async #carryOut(m: JsMsg, cmd: AppCommand): Promise<void> {
    if (this.#seen.includes(cmd.id)) {
      this.log.info({ command: cmd.id, seq: m.seq }, 'command already handled; acked again');
      m.ack();
      return;
    }
    const t0 = monoMs();
    for (;;) {
      try {
        const outcome = await this.processor.handle(cmd);
        this.log.info({ command: cmd.id, app: cmd.app, action: cmd.action, outcome, seq: m.seq, tookMs: monoMs() - t0 }, 'command handled');
        break;
      } catch (e) {
        // The claim could not be read (NATS down): try again rather than guess the epoch.
        if (this.#loop.stopped) return;
        this.log.warn({ command: cmd.id, err: (e as Error).message }, 'cannot handle command yet; retrying');
        await sleep(250);
      }
    }
    this.#seen.push(cmd.id);
    if (this.#seen.length > 1000) this.#seen.shift();
    this.handled++;
    m.ack();
  }
}
