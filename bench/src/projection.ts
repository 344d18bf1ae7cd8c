// Projection throughput fed from JetStream (issue 4, parts 1 and 2).
//
// A realistic HA_EVENTS log is generated with the real schemas and the real decider in the loop (a
// simulated fleet answers every command as an LCA would, every timer the decider asks for is
// appended as TimerFired the way the executor does): claim, ConfigApplied, LcaStarted and
// AppStarted for every host and application, the first promotions, then a long trickle of status
// changes (Service Unavailable and back, with the switchovers they cause) and a few exits with their
// restarts. It is published to a fresh harness nats-server, and then, in the same run:
//   - plain read: an ordered consumer drains the stream, counting only;
//   - replay: the same read + parseInput + transition in one thread (what the SCS projection does);
//   - pipelined replay: replayEvents (@ha/scs): the read in this thread, parseInput + transition in a
//     worker thread, raw messages handed over in batches (what an audit or a catch-up can use);
//   - a real SCS process (apps/scs/bin/scs.js) as a standby catching up from seq 1, timed by /healthz.
//   node bench/dist/projection.js [--hosts N] [--events M] [--rounds R] [--seed S] [--batch B]
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumeOptions, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { ensureStreams } from '@ha/bus';
import { codec, compiled, EVENTS_STREAM, InputSchema, parseInput, subjects, type AppCommand, type Input } from '@ha/events';
import { DECIDER_VERSION, initialState, replayEvents, summarize, transition, type State, type StateSummary } from '@ha/scs';
import { BIN, NatsServer, RedisServer, freePort, prng, spawnLogged, until } from '@ha/test';
import { Fleet, fleetConfig, type Outgoing, type SimApp } from './fleet.js';
import { cpuSeconds, memoryMiB, threadCpuSeconds } from './procstat.js';

/** Messages above 1 MB: the ConfigApplied of 10,000 applications is about 1.9 MB. */
export const BENCH_MAX_PAYLOAD = 32 * 1024 * 1024;

export type LogMsg = Readonly<{ subject: string; data: Uint8Array; msgID: string | undefined }>;

export type GeneratedLog = {
  msgs: LogMsg[];
  bytes: number;
  byType: Record<string, number>;
  configBytes: number;
  seconds: number;
};

/** A min-heap of pending timers by due time. */
class TimerHeap {
  readonly #h: { id: string; at: number }[] = [];
  get size(): number {
    return this.#h.length;
  }
  peek(): { id: string; at: number } | undefined {
    return this.#h[0];
  }
  push(t: { id: string; at: number }): void {
    const h = this.#h;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= h[i]!.at) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): { id: string; at: number } | undefined {
    const h = this.#h;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Synthetic JetStream time between two inputs while generating (the stored `at` is the real one). */
const STEP_MS = 2;

/**
 * Builds a log of at least `events` inputs for `hosts` hosts (10 applications each), seeded. The
 * decider runs while it is built, so that commands, answers and timers are the ones it asks for.
 */
export const generateLog = (hosts: number, events: number, seed = 1): GeneratedLog => {
  const t0 = process.hrtime.bigint();
  const config = fleetConfig(hosts);
  const fleet = new Fleet(config);
  const rnd = prng(seed);
  const msgs: LogMsg[] = [];
  const byType: Record<string, number> = {};
  let bytes = 0;
  let state: State = initialState();
  let seq = 0;
  let at = Date.UTC(2025, 0, 1);
  const answers: Outgoing[] = [];
  let next = 0;
  const timers = new TimerHeap();
  const scs = 'bench-generator';

  const append = (subject: string, input: Input, msgID: string | undefined, onSeq?: (seq: number) => void): void => {
    seq++;
    at += STEP_MS;
    const data = codec.encode(input);
    msgs.push({ subject, data, msgID });
    bytes += data.length;
    byType[input.type] = (byType[input.type] ?? 0) + 1;
    onSeq?.(seq);
    const t = transition(state, { seq, at, input });
    state = t.state;
    for (const e of t.effects) {
      if (e.kind === 'command') {
        const cmd: AppCommand = { type: 'AppCommand', v: 1, id: e.id, epoch: e.epoch, host: e.host, app: e.app, action: e.action, lca: e.lca, incarnation: e.incarnation, causeSeq: e.causeSeq };
        const o = fleet.onCommand(cmd);
        if (o) answers.push(o);
      } else if (e.kind === 'timer') {
        timers.push({ id: e.id, at: e.at });
      }
    }
  };
  const appendLca = (o: Outgoing): void => append(o.subject, o.event, o.msgID, (s) => fleet.stored(o, s));
  /** LCAs answer at once; due timers fire as the executor fires them (every timer effect, cleared or not). */
  const settle = (): void => {
    for (;;) {
      if (next < answers.length) {
        appendLca(answers[next++]!);
        continue;
      }
      const due = timers.peek();
      if (due && due.at <= at) {
        timers.pop();
        append(subjects.timer, { type: 'TimerFired', v: 1, epoch: state.epoch, scs, timer: due.id }, `timer:${state.epoch}:${due.id}`);
        continue;
      }
      break;
    }
    if (next > 10_000) {
      answers.splice(0, next);
      next = 0;
    }
  };

  append(subjects.claim, { type: 'ScsClaimed', v: 1, scs, deciderVersion: DECIDER_VERSION }, undefined);
  append(subjects.config, { type: 'ConfigApplied', v: 1, epoch: state.epoch, scs, config }, undefined);
  const configBytes = msgs[1]!.data.length;
  for (const h of fleet.hosts) {
    appendLca(fleet.lcaStarted(h));
    settle();
  }
  for (const h of fleet.hosts) {
    for (const a of h.apps) {
      appendLca(fleet.appStarted(a));
      settle();
    }
  }
  // the trickle: mostly Service Unavailable and back (on primaries this is a graceful switchover),
  // a few exits (restarted through a timer and a start command); about 1% of applications unavailable
  const all = [...fleet.apps.values()];
  const unavailable = new Set<SimApp>();
  const cap = Math.max(1, Math.floor(all.length / 100));
  while (seq < events) {
    const r = rnd.next();
    if (r < 0.03) {
      const a = all[Math.floor(rnd.next() * all.length)]!;
      if (a.incarnation !== null) {
        unavailable.delete(a);
        appendLca(fleet.exited(a));
      }
    } else if (unavailable.size >= cap || (unavailable.size > 0 && r < 0.5)) {
      const a = unavailable.values().next().value!;
      unavailable.delete(a);
      if (a.incarnation !== null && a.status === 'service-unavailable') appendLca(fleet.statusChanged(a, 'started'));
    } else {
      const a = all[Math.floor(rnd.next() * all.length)]!;
      if (a.incarnation !== null && a.status === 'started') {
        unavailable.add(a);
        appendLca(fleet.statusChanged(a, 'service-unavailable'));
      }
    }
    settle();
    at += 20 * STEP_MS; // the trickle is slower than the start-up burst
    settle();
  }
  return { msgs, bytes, byType, configBytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
};

/** Publishes the log in order with up to `window` publishes in flight; checks that sequences match positions. */
export const publishLog = async (js: JetStreamClient, msgs: readonly LogMsg[], window = 1000): Promise<number> => {
  const t0 = process.hrtime.bigint();
  let inflight: Promise<void>[] = [];
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    const expected = i + 1;
    inflight.push(
      js.publish(m.subject, m.data, { ...(m.msgID ? { msgID: m.msgID } : {}), timeout: 30_000 }).then((pa) => {
        if (pa.seq !== expected) throw new Error(`stored at seq ${pa.seq}, expected ${expected} (the stream was not empty?)`);
      }),
    );
    if (inflight.length >= window) {
      await Promise.all(inflight);
      inflight = [];
    }
  }
  await Promise.all(inflight);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};

/**
 * `cpuSeconds`: CPU time of this process meanwhile, every thread (the worker's and V8's GC helpers
 * included); `mainCpuSeconds`: that of the reading thread alone. On a shared machine the rates vary
 * with the load, CPU per event much less.
 */
export type ReadResult = { events: number; seconds: number; eventsPerSecond: number; malformed: number; cpuSeconds: number; mainCpuSeconds: number };

const cpuNow = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Drains HA_EVENTS from seq 1 with an ordered consumer, as the SCS does (`consumers.get` with
 * DeliverPolicy.All, then `consume()` and a `for await`); `onMsg` is what is done per message.
 */
export const drain = async (js: JetStreamClient, last: number, onMsg: (m: JsMsg) => void, opts?: ConsumeOptions): Promise<{ events: number; seconds: number; cpuSeconds: number; mainCpuSeconds: number }> => {
  const c0 = cpuNow();
  const m0 = threadCpuSeconds();
  const t0 = process.hrtime.bigint();
  const c = await js.consumers.get(EVENTS_STREAM, { deliver_policy: DeliverPolicy.All });
  const msgs = await c.consume(opts);
  let n = 0;
  for await (const m of msgs) {
    n++;
    onMsg(m);
    if (m.seq >= last) break;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuSeconds = round3(cpuNow() - c0);
  const mainCpuSeconds = round3(threadCpuSeconds() - m0);
  await msgs.close();
  return { events: n, seconds, cpuSeconds, mainCpuSeconds };
};

const rate = (events: number, seconds: number) => Math.round(events / seconds);

export const plainRead = async (js: JetStreamClient, last: number, opts?: ConsumeOptions): Promise<ReadResult> => {
  let bytes = 0;
  const r = await drain(js, last, (m) => {
    bytes += m.data.length; // touch the payload, as any reader would
  }, opts);
  if (bytes === 0) throw new Error('nothing read');
  return { ...r, eventsPerSecond: rate(r.events, r.seconds), malformed: 0 };
};

/** Read + parse/validate + transition, folding the state as the projection does. */
export const replayRead = async (js: JetStreamClient, last: number, opts?: ConsumeOptions): Promise<ReadResult & { ignored: number; state: StateSummary }> => {
  let state = initialState();
  let malformed = 0;
  const r = await drain(js, last, (m) => {
    const parsed = parseInput(m.subject, m.data);
    if (!parsed.ok) {
      malformed++;
      return;
    }
    state = transition(state, { seq: m.seq, at: Number(m.timestampNanos / 1_000_000n), input: parsed.value }).state;
  }, opts);
  return { ...r, eventsPerSecond: rate(r.events, r.seconds), malformed, ignored: state.counts.ignored, state: summarize(state) };
};

/** The same in two threads: `replayEvents` reads here and applies in a worker (its default consume options unless `opts`). */
/** `workerBusySeconds`: the worker parsing and applying; `readerWaitSeconds`: the reading thread waiting for it. */
export type PipelinedFigures = ReadResult & { workerBusySeconds: number; readerWaitSeconds: number };
export type PipelinedResult = PipelinedFigures & { ignored: number; state: StateSummary };

export const pipelinedRead = async (js: JetStreamClient, last: number, opts?: ConsumeOptions): Promise<PipelinedResult> => {
  const c0 = cpuNow();
  const m0 = threadCpuSeconds();
  const r = await replayEvents(js, { upTo: last, ...(opts ? { consume: opts } : {}) });
  const cpuSeconds = round3(cpuNow() - c0);
  const mainCpuSeconds = round3(threadCpuSeconds() - m0);
  const events = r.inputs + r.malformed;
  const s3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    events,
    seconds: r.seconds,
    eventsPerSecond: rate(events, r.seconds),
    malformed: r.malformed,
    cpuSeconds,
    mainCpuSeconds,
    ignored: r.state.counts.ignored,
    state: r.state,
    workerBusySeconds: s3(r.workerBusySeconds),
    readerWaitSeconds: s3(r.readerWaitSeconds),
  };
};

/** The same work on messages already in memory: where the time of a replay goes (µs per event). */
export const inMemoryBreakdown = (
  msgs: readonly LogMsg[],
): { jsonParseUs: number; zodUs: number; compiledZodUs: number; parseInputUs: number; transitionUs: number } => {
  const dec = new TextDecoder();
  let t = process.hrtime.bigint();
  const values: unknown[] = [];
  for (const m of msgs) values.push(JSON.parse(dec.decode(m.data)));
  const jsonParseUs = Number(process.hrtime.bigint() - t) / 1e3 / msgs.length;
  // validation alone, on values already parsed: zod's ordinary parser, then its compiled one (what parseInput uses)
  t = process.hrtime.bigint();
  for (const v of values) InputSchema.safeParse(v);
  const zodUs = Number(process.hrtime.bigint() - t) / 1e3 / msgs.length;
  t = process.hrtime.bigint();
  for (const v of values) compiled.input.safeParse(v);
  const compiledZodUs = Number(process.hrtime.bigint() - t) / 1e3 / msgs.length;
  t = process.hrtime.bigint();
  const inputs: Input[] = [];
  for (const m of msgs) {
    const p = parseInput(m.subject, m.data);
    if (p.ok) inputs.push(p.value);
  }
  const parseInputUs = Number(process.hrtime.bigint() - t) / 1e3 / msgs.length;
  let state = initialState();
  const at = Date.now();
  t = process.hrtime.bigint();
  for (let i = 0; i < inputs.length; i++) state = transition(state, { seq: i + 1, at: at + i, input: inputs[i]! }).state;
  const transitionUs = Number(process.hrtime.bigint() - t) / 1e3 / inputs.length;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { jsonParseUs: r(jsonParseUs), zodUs: r(zodUs), compiledZodUs: r(compiledZodUs), parseInputUs: r(parseInputUs), transitionUs: r(transitionUs) };
};

const httpJson = (url: string, timeoutMs = 1000): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });

export { httpJson };

/** `SET key value PX ms` over a raw RESP connection (the bench needs no Redis client for one command). */
const redisSet = (port: number, key: string, value: string, ms: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const parts = ['SET', key, value, 'PX', String(ms)];
    const cmd = `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
    const s = createConnection({ host: '127.0.0.1', port }, () => s.write(cmd));
    s.setTimeout(2000, () => s.destroy(new Error('redis timeout')));
    s.on('data', (d) => {
      s.destroy();
      if (d.toString().startsWith('+OK')) resolve();
      else reject(new Error(`redis: ${d.toString().trim()}`));
    });
    s.on('error', reject);
  });

export type StandbyResult = {
  /** Spawn to the last input applied. */
  totalSeconds: number;
  /** First input applied (as seen by polling /healthz every 10 ms) to the last. */
  catchUpSeconds: number;
  eventsPerSecond: number;
  cpuSeconds: number;
  rssMiB: number;
  hwmMiB: number;
  malformed: number;
};

/**
 * A real SCS process as a standby (the lease key is held by someone else, so it never claims):
 * the time it takes its projection to apply the whole log.
 */
export const standbyCatchUp = async (nats: NatsServer, redis: RedisServer, dir: string, cluster: string, last: number): Promise<StandbyResult> => {
  await redisSet(redis.port, `ha:${cluster}:scs:leader`, 'bench-holder', 3_600_000);
  const port = await freePort();
  const env = { HA_NATS_URL: nats.url, HA_REDIS_URL: redis.url, HA_LOG_LEVEL: 'info' };
  const t0 = process.hrtime.bigint();
  const p = spawnLogged('scs-standby', process.execPath, [BIN.scs, '--id', 'bench-standby', '--http', `127.0.0.1:${port}`], join(dir, 'scs-standby.log'), env);
  try {
    let first: { t: bigint; seq: number } | null = null;
    let end = 0n;
    let h: Record<string, unknown> = {};
    await until('the standby SCS to apply the whole log', async () => {
      if (!p.running) throw new Error(`scs exited; see ${p.logFile}`);
      h = await httpJson(`http://127.0.0.1:${port}/healthz`);
      const seq = Number(h['lastSeq'] ?? 0);
      const now = process.hrtime.bigint();
      if (seq > 0 && first === null) first = { t: now, seq };
      if (seq >= last) {
        end = now;
        return true;
      }
      return false;
    }, 600_000, 10);
    const cpu = cpuSeconds(p.pid);
    const mem = memoryMiB(p.pid);
    const f = first ?? { t: t0, seq: 0 };
    const catchUp = Number(end - f.t) / 1e9;
    return {
      totalSeconds: Math.round(Number(end - t0) / 1e6) / 1e3,
      catchUpSeconds: Math.round(catchUp * 1e3) / 1e3,
      eventsPerSecond: Math.round((last - f.seq) / Math.max(catchUp, 1e-3)),
      cpuSeconds: Math.round(cpu * 100) / 100,
      rssMiB: mem.rss,
      hwmMiB: mem.hwm,
      malformed: Number(h['malformed'] ?? 0),
    };
  } finally {
    await p.stop('SIGTERM');
  }
};

export type ProjectionOptions = { hosts: number; events: number; rounds: number; seed: number; batch: number; log?: (s: string) => void };

export type ProjectionReport = {
  hosts: number;
  apps: number;
  events: number;
  logBytes: number;
  configAppliedBytes: number;
  byType: Record<string, number>;
  generateSeconds: number;
  publishSeconds: number;
  /** The SCS's way of reading (default `consume()` options): best of `rounds`. */
  plain: ReadResult;
  /** Single-thread replay (read + parseInput + transition in one thread). */
  replay: ReadResult;
  /** replay / plain events per second, same run, same consumer options. */
  ratio: number;
  /** Pipelined replay (`replayEvents`: read here, parseInput + transition in a worker thread), nats.js's default consume options as `plain`. */
  pipelined: PipelinedFigures;
  /** pipelined / plain (the plain ordered-consumer read with default options). */
  pipelinedRatio: number;
  /**
   * The same with `consume({ max_messages: batch })` (`replayEvents`'s default); `pipelinedRatio`
   * is still against the plain read with nats.js's default options (the issue's baseline).
   */
  batched: { maxMessages: number; plain: ReadResult; replay: ReadResult; ratio: number; pipelined: PipelinedFigures; pipelinedRatio: number };
  rounds: { plain: number[]; replay: number[]; pipelined: number[]; plainBatched: number[]; replayBatched: number[]; pipelinedBatched: number[] };
  inMemory: ReturnType<typeof inMemoryBreakdown>;
  standby: StandbyResult;
};

const best = <T extends { eventsPerSecond: number }>(xs: T[]): T => xs.reduce((a, b) => (b.eventsPerSecond > a.eventsPerSecond ? b : a));

export const runProjection = async (o: ProjectionOptions): Promise<ProjectionReport> => {
  const log = o.log ?? ((s: string) => process.stderr.write(`projection: ${s}\n`));
  log(`generating a log of ${o.events} inputs for ${o.hosts} hosts / ${o.hosts * 10} applications (decider in the loop) ...`);
  const g = generateLog(o.hosts, o.events, o.seed);
  log(`generated ${g.msgs.length} inputs, ${(g.bytes / 1e6).toFixed(1)} MB, in ${g.seconds.toFixed(1)} s; ConfigApplied ${(g.configBytes / 1e6).toFixed(2)} MB`);
  const dir = mkdtempSync(join(tmpdir(), 'ha-bench-projection-'));
  const [nats, redis] = await Promise.all([NatsServer.start(dir, { maxPayload: BENCH_MAX_PAYLOAD }), RedisServer.start(dir)]);
  let nc: NatsConnection | undefined;
  let ok = false;
  try {
    nc = await connect({ servers: nats.url });
    await ensureStreams(nc);
    const js = jetstream(nc);
    const publishSeconds = await publishLog(js, g.msgs);
    const last = g.msgs.length;
    log(`published in ${publishSeconds.toFixed(1)} s (${rate(last, publishSeconds)} events/s)`);
    const rounds = {
      plain: [] as ReadResult[],
      replay: [] as ReadResult[],
      pipelined: [] as PipelinedResult[],
      plainBatched: [] as ReadResult[],
      replayBatched: [] as ReadResult[],
      pipelinedBatched: [] as PipelinedResult[],
    };
    const batchOpts: ConsumeOptions = { max_messages: o.batch };
    for (let i = 0; i < o.rounds; i++) {
      rounds.plain.push(await plainRead(js, last));
      const single = await replayRead(js, last);
      rounds.replay.push(single);
      const piped = await pipelinedRead(js, last, {});
      rounds.pipelined.push(piped);
      if (JSON.stringify(piped.state) !== JSON.stringify(single.state)) throw new Error('the pipelined replay ended in another state than the single-thread one');
      rounds.plainBatched.push(await plainRead(js, last, batchOpts));
      rounds.replayBatched.push(await replayRead(js, last, batchOpts));
      rounds.pipelinedBatched.push(await pipelinedRead(js, last, batchOpts));
      const f = (k: keyof typeof rounds) => rounds[k][i]!.eventsPerSecond;
      const w = (r: PipelinedResult) => `(worker busy ${r.workerBusySeconds} s, reader waited ${r.readerWaitSeconds} s of ${r.seconds.toFixed(3)} s)`;
      log(
        `round ${i + 1}: plain ${f('plain')}/s, replay ${f('replay')}/s, pipelined ${f('pipelined')}/s ${w(piped)}; ` +
          `max_messages ${o.batch}: plain ${f('plainBatched')}/s, replay ${f('replayBatched')}/s, pipelined ${f('pipelinedBatched')}/s ${w(rounds.pipelinedBatched[i]!)}`,
      );
      const us = (k: keyof typeof rounds) => {
        const r = rounds[k][i]!;
        return `${((r.mainCpuSeconds * 1e6) / r.events).toFixed(1)}/${((r.cpuSeconds * 1e6) / r.events).toFixed(1)}`;
      };
      log(
        `  CPU µs per event (reading thread/process): plain ${us('plain')}, replay ${us('replay')}, pipelined ${us('pipelined')}; ` +
          `max_messages ${o.batch}: plain ${us('plainBatched')}, replay ${us('replayBatched')}, pipelined ${us('pipelinedBatched')}`,
      );
    }
    const malformed = Math.max(...[...rounds.replay, ...rounds.pipelined].map((r) => r.malformed));
    if (malformed > 0) throw new Error(`${malformed} generated inputs did not validate`);
    const inMemory = inMemoryBreakdown(g.msgs);
    log(
      `in memory: JSON.parse ${inMemory.jsonParseUs} µs, zod ${inMemory.zodUs} µs (compiled ${inMemory.compiledZodUs} µs), ` +
        `parseInput ${inMemory.parseInputUs} µs, transition ${inMemory.transitionUs} µs per event`,
    );
    log('a real SCS process catching up as a standby ...');
    const standby = await standbyCatchUp(nats, redis, dir, 'bench', last);
    log(`standby SCS: ${standby.eventsPerSecond} events/s (${standby.catchUpSeconds} s from its first applied input, ${standby.totalSeconds} s from spawn)`);
    const plain = best(rounds.plain);
    const replay = best(rounds.replay);
    const pb = best(rounds.plainBatched);
    const rb = best(rounds.replayBatched);
    const piped = best(rounds.pipelined);
    const pipedBatched = best(rounds.pipelinedBatched);
    const figures = ({ state: _state, ignored: _ignored, ...rest }: PipelinedResult): PipelinedFigures => rest;
    const strip = <T extends ReadResult>({ events, seconds, eventsPerSecond, malformed, cpuSeconds, mainCpuSeconds }: T): ReadResult => ({
      events,
      seconds,
      eventsPerSecond,
      malformed,
      cpuSeconds,
      mainCpuSeconds,
    });
    const r2 = (x: number) => Math.round(x * 1000) / 1000;
    const eps = (xs: ReadResult[]) => xs.map((x) => x.eventsPerSecond);
    ok = true;
    return {
      hosts: o.hosts,
      apps: o.hosts * 10,
      events: last,
      logBytes: g.bytes,
      configAppliedBytes: g.configBytes,
      byType: g.byType,
      generateSeconds: Math.round(g.seconds * 10) / 10,
      publishSeconds: Math.round(publishSeconds * 10) / 10,
      plain,
      replay: strip(replay),
      ratio: r2(replay.eventsPerSecond / plain.eventsPerSecond),
      pipelined: figures(piped),
      pipelinedRatio: r2(piped.eventsPerSecond / plain.eventsPerSecond),
      batched: {
        maxMessages: o.batch,
        plain: pb,
        replay: strip(rb),
        ratio: r2(rb.eventsPerSecond / pb.eventsPerSecond),
        pipelined: figures(pipedBatched),
        pipelinedRatio: r2(pipedBatched.eventsPerSecond / plain.eventsPerSecond),
      },
      rounds: {
        plain: eps(rounds.plain),
        replay: eps(rounds.replay),
        pipelined: eps(rounds.pipelined),
        plainBatched: eps(rounds.plainBatched),
        replayBatched: eps(rounds.replayBatched),
        pipelinedBatched: eps(rounds.pipelinedBatched),
      },
      inMemory,
      standby,
    };
  } finally {
    await nc?.close().catch(() => undefined);
    await Promise.all([nats.stop(), redis.stop()]);
    if (ok) rmSync(dir, { recursive: true, force: true });
    else log(`logs kept in ${dir}`);
  }
};

export const PROJECTION_HELP = `usage: node bench/dist/projection.js [--hosts N] [--events M] [--rounds R] [--seed S] [--batch B]

Projection throughput fed from JetStream. Generates a realistic HA_EVENTS log (N hosts, 10
applications each; LcaStarted and AppStarted for all, the first promotions, then a trickle of status
changes, switchovers, exits and restarts, built with the real schemas and the decider in the loop),
publishes it to a fresh nats-server, then measures in the same run: a plain ordered-consumer read,
a single-thread replay (read + parseInput + transition), a pipelined replay (replayEvents: read in
the main thread, parseInput + transition in a worker thread) and their ratios to the plain read, the
same with consume({ max_messages: B }), and a real SCS process catching up as a standby.

options:
  --hosts N     hosts (default 1000: 10,000 applications)
  --events M    inputs in the log, at least (default 100000)
  --rounds R    plain/replay rounds, the best of which is reported (default 2)
  --seed S      seed of the trickle (default 1)
  --batch B     max_messages of the batched variant (default 1000)
  --help        this text
`;

const main = async (): Promise<void> => {
  if (process.argv.includes('--help')) {
    process.stdout.write(PROJECTION_HELP);
    return;
  }
  const arg = (n: string, d: number) => {
    const i = process.argv.indexOf(`--${n}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const r = await runProjection({ hosts: arg('hosts', 1000), events: arg('events', 100_000), rounds: arg('rounds', 2), seed: arg('seed', 1), batch: arg('batch', 1000) });
  process.stdout.write(JSON.stringify(r, null, 2) + '\n');
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    process.stderr.write(`projection: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
