import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliverPolicy, jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connectOnce, ensureStreams, type NatsConnection } from '@ha/bus';
import { EVENTS_STREAM, parseInput } from '@ha/events';
import { initialState, replayEvents, summarize, transition, type BatchReport, type Effect, type ReplayOptions, type State } from '@ha/scs';
import { NatsServer, type GoldenLine } from '@ha/test';

// The pipelined replay (read in this thread, parse + transition in a worker) must give exactly what
// a single-thread transition loop gives over the same stored log: the same effects per input, the
// same malformed messages skipped, the same final state, whatever the batch boundaries.

const enc = new TextEncoder();
const golden = readFileSync(new URL('../fixtures/golden-faults.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as GoldenLine)
  .flatMap((l) => (l.t === 'event' ? [{ subject: l.subject, data: enc.encode(l.data) }] : []));

/** Three kinds of malformed messages the SCS projection counts and skips: not JSON, not an input, a foreign subject. */
const malformed = [
  { subject: 'ha.evt.host.host-a.app', data: enc.encode('{"type":"AppExited",') },
  { subject: 'ha.evt.scs.timer', data: enc.encode(JSON.stringify({ type: 'TimerFired', v: 1, epoch: 'two' })) },
  { subject: 'ha.evt.host.host-a.app', data: enc.encode(JSON.stringify({ type: 'AppStatusChanged', v: 1, host: 'host-b', lca: 1, n: 99, app: 'x', incarnation: 3, status: 'started' })) },
];
// the golden log (29 events), malformed messages inside, then the golden log again: its LCA events
// are then duplicates (ignored) and its claim a new epoch, under which the decider decides again
const log = [...golden.slice(0, 15), malformed[0]!, ...golden.slice(15), malformed[1]!, malformed[2]!, ...golden];

type Reference = { effects: { seq: number; effects: Effect[] }[]; malformedSeqs: number[]; state: State; lastSeq: number };

/** The single-thread loop: an ordered consumer, parseInput, transition, as `#consumeEvents` in the SCS. */
const reference = async (js: JetStreamClient, upTo: number): Promise<Reference> => {
  const msgs = await (await js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All })).consume();
  let state = initialState();
  const effects: Reference['effects'] = [];
  const malformedSeqs: number[] = [];
  let lastSeq = 0;
  for await (const m of msgs) {
    lastSeq = m.seq;
    const parsed = parseInput(m.subject, m.data);
    if (parsed.ok) {
      const t = transition(state, { seq: m.seq, at: Number(m.timestampNanos / 1_000_000n), input: parsed.value });
      state = t.state;
      if (t.effects.length > 0) effects.push({ seq: m.seq, effects: t.effects });
    } else {
      malformedSeqs.push(m.seq);
    }
    if (m.seq >= upTo) break;
  }
  await msgs.close();
  return { effects, malformedSeqs, state, lastSeq };
};

const pipelined = async (js: JetStreamClient, o: ReplayOptions) => {
  const batches: BatchReport[] = [];
  const r = await replayEvents(js, { ...o, onBatch: (b) => batches.push(b) });
  return { r, batches };
};

describe('replayEvents: the pipelined replay of HA_EVENTS', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let ref: Reference;
  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connectOnce(nats.url, 'replay-test');
    await ensureStreams(nc);
    js = jetstream(nc);
    for (const m of log) await js.publish(m.subject, m.data);
    ref = await reference(js, log.length);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('the reference loop sees the log as built: effects to compare, three malformed messages in the middle', () => {
    expect(ref.lastSeq).toBe(log.length);
    expect(ref.malformedSeqs).toEqual([16, 31, 32]);
    expect(log.length).toBe(61);
    expect(ref.effects.length).toBeGreaterThan(5);
    expect(ref.effects.flatMap((e) => e.effects).some((e) => e.kind === 'announce')).toBe(true);
    expect(ref.state.counts.inputs).toBe(log.length - 3);
  });

  it.each<[string, ReplayOptions]>([
    ['one batch', {}],
    ['batches of 7, one in flight', { batchSize: 7, inFlight: 1 }],
    ['batches of 1, nats.js default pulls', { batchSize: 1, consume: {} }],
    ['batches of 15 (malformed messages first in a batch)', { batchSize: 15, inFlight: 2 }],
  ])('gives the same effects, malformed messages and final state as a single-thread loop: %s', async (_name, o) => {
    const { r, batches } = await pipelined(js, o);
    expect(r.lastSeq).toBe(log.length);
    expect(r.inputs).toBe(log.length - 3);
    expect(r.malformed).toBe(3);
    expect(batches.flatMap((b) => b.malformed.map((m) => m.seq))).toEqual(ref.malformedSeqs);
    expect(batches.flatMap((b) => b.malformed.map((m) => m.subject))).toEqual([malformed[0]!.subject, malformed[1]!.subject, malformed[2]!.subject]);
    expect(batches.flatMap((b) => b.effects)).toStrictEqual(ref.effects);
    expect(r.state).toStrictEqual(summarize(ref.state));
    expect(JSON.stringify(r.state)).toBe(JSON.stringify(summarize(ref.state)));
    // reports arrive in log order and cover it without gaps
    expect(batches[0]!.firstSeq).toBe(1);
    for (let i = 1; i < batches.length; i++) expect(batches[i]!.firstSeq).toBe(batches[i - 1]!.lastSeq + 1);
    expect(batches.at(-1)!.lastSeq).toBe(log.length);
  });

  it('stops at upTo, with the state of that prefix', async () => {
    const upTo = 30;
    const want = await reference(js, upTo);
    const { r, batches } = await pipelined(js, { upTo, batchSize: 8 });
    expect(r.lastSeq).toBe(upTo);
    expect(r.malformed).toBe(1);
    expect(batches.flatMap((b) => b.effects)).toStrictEqual(want.effects);
    expect(r.state).toStrictEqual(summarize(want.state));
  });

  it('without onBatch the worker sends no effects back, and the final state is the same', async () => {
    const r = await replayEvents(js, { batchSize: 16 });
    expect(r.malformed).toBe(3);
    expect(r.state).toStrictEqual(summarize(ref.state));
  });

  it('an error thrown by onBatch fails the replay instead of being lost', async () => {
    await expect(
      replayEvents(js, {
        batchSize: 5,
        onBatch: () => {
          throw new Error('audit sink broke');
        },
      }),
    ).rejects.toThrow('audit sink broke');
  });
});
