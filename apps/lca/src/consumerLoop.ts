import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from '@ha/bus';
import { sleep } from '@ha/bus';

/**
 * Reads a JetStream consumer for as long as the LCA runs: (re)opens it with `open` (which starts
 * where the reader left off), hands every message to `onMessage` in order, and after a failure or
 * `restart()` (a reconnect) opens it again. One log line per outage.
 */
export class ConsumerLoop {
  #stopped = false;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;

  constructor(
    private readonly what: string,
    private readonly open: () => Promise<ConsumerMessages>,
    private readonly onMessage: (m: JsMsg) => Promise<void> | void,
    private readonly log: Logger,
  ) {}

  get stopped(): boolean {
    return this.#stopped;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Re-creates the subscription at once (after a reconnect) instead of waiting for the client to notice. */
  restart(): void {
    void this.#messages?.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close().catch(() => undefined);
    await this.#loop;
  }

  async #run(): Promise<void> {
    let said = false;
    while (!this.#stopped) {
      try {
        this.#messages = await this.open();
        if (this.#stopped) await this.#messages.close();
        if (said) this.log.info(`${this.what}: reading again`);
        said = false;
        for await (const m of this.#messages) {
          await this.onMessage(m);
          if (this.#stopped) break;
        }
      } catch (e) {
        if (this.#stopped) break;
        if (!said) this.log.warn({ err: (e as Error).message }, `${this.what} failed; retrying`);
        said = true;
      }
      if (!this.#stopped) await sleep(250);
    }
  }
}
