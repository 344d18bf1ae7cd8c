/**
 * What a failing test leaves behind (issue 10): every process a test starts already logs to a file in
 * the test's directory; when a test fails, the broker's streams are saved beside those logs before the
 * broker stops (`<dir>/evidence/<STREAM>.jsonl`), the tail of each log is printed, and the failure
 * message says where all of it is.
 *
 * The harness does not import vitest (the benchmarks use it too): under vitest, `test/support/
 * vitest.setup.ts` installs the hooks below, which tell whether the running test has failed and add a
 * line to its failure message.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';

export type EvidenceHooks = {
  /** How many tests of this file have failed so far, the running one included. */
  failures: () => number;
  /** Adds `text` to the running test's failure message (or prints it when no test is running). */
  report: (text: string) => void;
};

const KEY = Symbol.for('ha.test.evidence');
type Holder = { [KEY]?: EvidenceHooks };

export const setEvidenceHooks = (hooks: EvidenceHooks): void => {
  (globalThis as Holder)[KEY] = hooks;
};

/** Failures counted so far (0 outside vitest); a server remembers it at start. */
export const failuresSoFar = (): number => (globalThis as Holder)[KEY]?.failures() ?? 0;

/** Whether evidence should be kept now: a test failed since `since`, or `HA_KEEP_EVIDENCE` is set. */
export const evidenceWanted = (since: number): boolean => failuresSoFar() > since || process.env['HA_KEEP_EVIDENCE'] === '1';

/** At most this many messages per stream are saved (the newest). */
const MAX_PER_STREAM = 20_000;
const TAIL_LINES = 12;

/**
 * Saves every stream of the broker at `url` as JSON Lines (`{seq, at, subject, data}`) into
 * `<dir>/evidence/`, prints the tail of each `*.log` in `dir`, and reports where it all is. Never
 * throws: evidence is best effort and must not hide the failure it documents.
 */
export const saveEvidence = async (url: string, dir: string, connectOpts: Record<string, unknown> = {}): Promise<void> => {
  const out = join(dir, 'evidence');
  const saved: string[] = [];
  let nc: NatsConnection | undefined;
  try {
    mkdirSync(out, { recursive: true });
    nc = await connect({ servers: url, timeout: 2000, maxReconnectAttempts: 0, ...connectOpts });
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const js = jetstream(nc, { timeout: 2000 });
    for await (const si of jsm.streams.list()) {
      const { first_seq: first, last_seq: last, messages } = si.state;
      const lines: string[] = [];
      if (messages > 0) {
        const start = Math.max(first, last - MAX_PER_STREAM + 1);
        const c = await js.consumers.get(si.config.name, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start });
        for (let done = false; !done; ) {
          const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
          let got = 0;
          for await (const m of batch) {
            got++;
            let data: unknown;
            try {
              data = m.json();
            } catch {
              data = m.string();
            }
            lines.push(JSON.stringify({ seq: m.seq, at: new Date(Number(m.timestampNanos / 1_000_000n)).toISOString(), subject: m.subject, data }));
            done = m.seq >= last;
            if (done) break;
          }
          if (got === 0) break;
        }
      }
      writeFileSync(join(out, `${si.config.name}.jsonl`), lines.length > 0 ? lines.join('\n') + '\n' : '');
      saved.push(`${si.config.name} (${lines.length})`);
    }
  } catch (e) {
    saved.push(`(streams not saved: ${(e as Error).message})`);
  } finally {
    await nc?.close().catch(() => undefined);
  }
  const logs = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.log')).sort() : [];
  // The brokers' own logs are listed, not printed: their tails say nothing of the failure.
  for (const f of logs.filter((l) => !/^(nats|redis)-server/.test(l))) {
    const tail = readFileSync(join(dir, f), 'utf8').trimEnd().split('\n').slice(-TAIL_LINES);
    process.stderr.write(`--- last ${tail.length} lines of ${join(dir, f)}\n${tail.join('\n')}\n`);
  }
  const text = `evidence in ${dir}: process logs ${logs.join(', ') || '(none)'}; streams in evidence/: ${saved.join(', ') || '(none)'}`;
  const hooks = (globalThis as Holder)[KEY];
  if (hooks) hooks.report(text);
  else process.stderr.write(`${text}\n`);
};
