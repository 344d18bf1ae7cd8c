import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliverPolicy, DiscardPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLogger, ensureStreams, openPrimaries, type KV } from '@ha/bus';
import { codec, COMMANDS_STREAM, DECISIONS_STREAM, PrimaryEntrySchema, SWITCHOVERS_STREAM, subjects, type Input, type Recorded } from '@ha/events';
import { NatsServer, until } from '@ha/test';
import type { AnnounceEffect, CommandEffect, Effect, PrimaryEffect } from '../decider/index.js';
import { Executor, timerDelayMs } from './executor.js';

const log = createLogger('executor-test');
log.level = process.env['DBG'] ? 'error' : 'silent';

const rec = (seq: number): Recorded<Input> => ({ seq, at: 1_700_000_000_000, input: { type: 'TimerFired', v: 1, epoch: 1, scs: 'scs-1', timer: 'x' } });
const command = (i: number, epoch: number, tag: string): CommandEffect => ({ kind: 'command', id: `${tag}${i}`, epoch, host: `h${i % 7}`, app: `a${i}`, action: 'promote', lca: 3, incarnation: 4, causeSeq: 5 });
const primary = (pair: string, app: string, epoch: number): PrimaryEffect => ({
  kind: 'primary',
  entry: { pair, app, host: 'h', endpoint: null, epoch, causeSeq: 9, at: '2026-11-25T00:00:00.000Z' },
});

/** Every stored message of a stream, in stream order. */
const dump = async (jsm: JetStreamManager, nc: NatsConnection, stream: string): Promise<unknown[]> => {
  const n = (await jsm.streams.info(stream)).state.messages;
  const out: unknown[] = [];
  if (n === 0) return out;
  const c = await jetstream(nc).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const it = await c.consume();
  for await (const m of it) {
    out.push(m.json());
    if (out.length === n) break;
  }
  await it.close();
  return out;
};

describe('the executor on a real nats-server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let kv: KV;
  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connect({ servers: nats.url });
    jsm = await ensureStreams(nc);
    kv = await openPrimaries(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  const executor = (canAct: () => boolean, window = 64) => {
    const ex = new Executor(jetstream(nc), jsm, kv, 'scs-1', canAct, log, window);
    ex.setEpoch(1);
    return ex;
  };

  it('sends the commands of one input without waiting for each ack, at most a window at once, stored in their order and recorded', async () => {
    await jsm.streams.purge(COMMANDS_STREAM);
    await jsm.streams.purge(DECISIONS_STREAM);
    const ex = executor(() => true, 64);
    const effects: Effect[] = Array.from({ length: 2000 }, (_, i) => command(i, 1, 'c'));
    await ex.run(rec(10), effects);
    await ex.settled();
    const stored = (await dump(jsm, nc, COMMANDS_STREAM)) as { id: string }[];
    expect(stored.map((c) => c.id)).toEqual(effects.map((_, i) => `c${i}`));
    expect(ex.peakInflight).toBeGreaterThan(1);
    expect(ex.peakInflight).toBeLessThanOrEqual(64);
    const records = (await dump(jsm, nc, DECISIONS_STREAM)) as { causeSeq: number; index: number }[];
    expect(records.map((r) => r.index).sort((a, b) => a - b)).toEqual(effects.map((_, i) => i));
  });

  it('sends nothing more once the gate closes, though earlier effects are still unanswered', async () => {
    await jsm.streams.purge(COMMANDS_STREAM); // (ids differ from the test above's: JetStream drops duplicates of those)
    let asked = 0;
    const ex = executor(() => asked++ < 100, 1000);
    await ex.run(rec(11), Array.from({ length: 500 }, (_, i) => command(i, 1, 'g')));
    await ex.settled();
    expect((await dump(jsm, nc, COMMANDS_STREAM)).length).toBe(100);
  });

  it('writes one pair\'s KV entries in the order decided, and never over an entry of a later epoch', async () => {
    const ex = executor(() => true);
    const effects = Array.from({ length: 20 }, (_, i) => primary('p1', `app${i}`, 1));
    await ex.run(rec(12), effects);
    await ex.settled();
    const e = await kv.get('p1');
    expect(PrimaryEntrySchema.parse(e?.json())).toMatchObject({ app: 'app19', epoch: 1 });

    const later = executor(() => true);
    later.setEpoch(5);
    await later.run(rec(13), [primary('p1', 'fresh', 5)]);
    await later.settled();
    await ex.run(rec(14), [primary('p1', 'stale', 1)]);
    await ex.settled();
    expect(PrimaryEntrySchema.parse((await kv.get('p1'))?.json())).toMatchObject({ app: 'fresh', epoch: 5 });
  });

  it('delivers a command and an announcement whose message ids someone published first, reports it, and still drops true duplicates', async () => {
    await jsm.streams.purge(COMMANDS_STREAM);
    const js = jetstream(nc);
    const cmd: CommandEffect = { kind: 'command', id: 'cmd:99:0', epoch: 7, host: 'hx', app: 'ax', action: 'promote', lca: 3, incarnation: 4, causeSeq: 99 };
    const ann: AnnounceEffect = { kind: 'announce', reconcile: false, announcement: { pair: 'px', from: { app: 'ax', host: 'hx' }, to: { app: 'bx', host: 'hy', endpoint: null }, reason: 'process-exit', epoch: 7, causeSeq: 99, at: '2026-11-25T00:00:00.000Z' } };
    // the ids of effects to come are predictable: taken first, they made the real ones duplicates, never delivered
    await js.publish(subjects.command('hx', 'ax'), codec.encode({ forged: true }), { msgID: '7:cmd:99:0' });
    await js.publish(subjects.switchoverStored('px'), codec.encode({ forged: true }), { msgID: 'sw:px:99' });
    const announced: unknown[] = [];
    const sub = nc.subscribe(subjects.switchover('px'), { callback: (_e, m) => { announced.push(m.json()); } });
    const ex = new Executor(jetstream(nc), jsm, kv, 'scs-1', () => true, log);
    ex.setEpoch(7);
    await ex.run(rec(99), [cmd, ann]);
    await ex.settled();
    expect(ex.forgedDuplicates).toBe(2);
    const commands = (await dump(jsm, nc, COMMANDS_STREAM)) as Record<string, unknown>[];
    expect(commands).toEqual([{ forged: true }, { type: 'AppCommand', v: 1, id: 'cmd:99:0', epoch: 7, host: 'hx', app: 'ax', action: 'promote', lca: 3, incarnation: 4, causeSeq: 99 }]);
    await until('the real announcement republished', () => (announced.some((a) => JSON.stringify(a) === JSON.stringify(ann.announcement)) ? true : undefined), 5000);
    // the same effects again (a retry, another SCS of the same epoch): duplicates of ours, dropped, not reported
    const before = (await jsm.streams.info(COMMANDS_STREAM)).state.messages;
    const sw = (await jsm.streams.info(SWITCHOVERS_STREAM)).state.messages;
    await ex.run(rec(99), [cmd, ann]);
    await ex.settled();
    expect(ex.forgedDuplicates).toBe(2);
    expect((await jsm.streams.info(COMMANDS_STREAM)).state.messages).toBe(before);
    expect((await jsm.streams.info(SWITCHOVERS_STREAM)).state.messages).toBe(sw);
    sub.unsubscribe();
  });
});

describe('an announcement when the bus fails mid-failover', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await ensureStreams(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  const announce = (pair: string, causeSeq: number): AnnounceEffect => ({ kind: 'announce', reconcile: false, announcement: { pair, from: { app: 'a', host: 'ha' }, to: { app: 'b', host: 'hb', endpoint: null }, reason: 'process-exit', epoch: 1, causeSeq, at: '2026-11-25T00:00:00.000Z' } });
  const stored = async (pair: string): Promise<unknown[]> => {
    const out: unknown[] = [];
    const last = (await jsm.streams.info(SWITCHOVERS_STREAM)).state.last_seq;
    for (let seq = 1; seq <= last; seq++) {
      const m = await jsm.streams.getMessage(SWITCHOVERS_STREAM, { seq }).catch(() => null);
      if (m?.subject === subjects.switchoverStored(pair)) out.push(m.json());
    }
    return out;
  };
  const capture = () => {
    const lines: string[] = [];
    return { lines, log: pino({ level: 'info' }, { write: (l: string) => void lines.push(l) }) };
  };

  it('is stored once JetStream takes writes again, while the SCS may act', async () => {
    const { lines, log: l } = capture();
    const ex = new Executor(jetstream(nc, { timeout: 500 }), jsm, await openPrimaries(nc), 'scs-1', () => true, l);
    ex.setEpoch(1);
    // JetStream refuses every write to the stream for a while (as when it is down or being restored)
    const info = await jsm.streams.info(SWITCHOVERS_STREAM);
    await jsm.streams.update(SWITCHOVERS_STREAM, { ...info.config, max_msgs: Math.max(1, info.state.messages), discard: DiscardPolicy.New });
    if (info.state.messages === 0) await jetstream(nc).publish(subjects.switchoverStored('filler'), codec.encode({}));
    await ex.run(rec(21), [announce('pf', 21)]);
    await until('the refused write noticed', () => (lines.some((x) => /not stored|effect failed/.test(x)) ? true : undefined), 10_000);
    await jsm.streams.update(SWITCHOVERS_STREAM, { ...info.config });
    await until('the announcement stored', async () => ((await stored('pf')).length === 1 ? true : undefined), 10_000);
    await ex.settled();
    expect(await stored('pf')).toEqual([announce('pf', 21).announcement]);
  });

  it('is stored exactly once when nats-server is killed and comes back', async () => {
    const { lines, log: l } = capture();
    const ex = new Executor(jetstream(nc, { timeout: 500 }), jsm, await openPrimaries(nc), 'scs-1', () => true, l);
    ex.setEpoch(1);
    const disconnected = (async () => {
      for await (const st of nc.status()) if (st.type === 'disconnect') return;
    })();
    nats.proc?.signal('SIGKILL');
    await disconnected;
    await ex.run(rec(22), [announce('pk', 22)]);
    await until('the failed write noticed', () => (lines.some((x) => /not stored|effect failed/.test(x)) ? true : undefined), 10_000);
    await nats.restart();
    await until('the announcement stored', async () => ((await stored('pk')).length >= 1 ? true : undefined), 15_000);
    await ex.settled();
    expect(await stored('pk')).toEqual([announce('pk', 22).announcement]);
  });

  it('naming the same member on both sides is not published', async () => {
    const { lines, log: l } = capture();
    const ex = new Executor(jetstream(nc), jsm, await openPrimaries(nc), 'scs-1', () => true, l);
    ex.setEpoch(1);
    const self = announce('ps', 23);
    await ex.run(rec(23), [{ ...self, announcement: { ...self.announcement, to: { app: 'a', host: 'ha', endpoint: null } } }]);
    await ex.settled();
    expect(await stored('ps')).toEqual([]);
    expect(lines.some((x) => x.includes('same member on both sides'))).toBe(true);
  });
});

describe('timer delays', () => {
  it('count the decider\'s duration from when the effect is carried out, however late the input is handled', () => {
    expect(timerDelayMs(1000, { at: 1500 })).toBe(500);
    expect(timerDelayMs(1000, { at: 900 })).toBe(0); // overdue: a new leader re-arming an old timer
  });
});
