import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { connectOnce, ensureStreams, isWrongLastSequence, lastOnSubject, type NatsConnection } from '@ha/bus';
import { EVENTS_STREAM, SWITCHOVERS_STREAM, codec, subjects } from '@ha/events';
import { NatsServer } from '@ha/test';

describe('the bus on a real nats-server', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connectOnce(nats.url, 'bus-test');
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('creates the streams idempotently and HA_EVENTS refuses deletes', async () => {
    const jsm = await ensureStreams(nc);
    await ensureStreams(nc);
    const js = jetstream(nc);
    const pa = await js.publish('ha.evt.op.test', codec.encode({ x: 1 }));
    await expect(jsm.streams.deleteMessage(EVENTS_STREAM, pa.seq)).rejects.toThrow();
    await expect(jsm.streams.purge(EVENTS_STREAM)).rejects.toThrow();
  });

  it('fences claims with the expected last subject sequence', async () => {
    const jsm = await ensureStreams(nc);
    const js = jetstream(nc);
    const last = (await lastOnSubject(jsm, EVENTS_STREAM, subjects.claim))?.seq ?? 0;
    const a = await js.publish(subjects.claim, codec.encode({ c: 'a' }), { expect: { lastSubjectSequence: last } });
    const b = js.publish(subjects.claim, codec.encode({ c: 'b' }), { expect: { lastSubjectSequence: last } });
    const err = await b.then(() => null, (e: unknown) => e);
    expect(isWrongLastSequence(err)).toBe(true);
    expect((await lastOnSubject(jsm, EVENTS_STREAM, subjects.claim))?.seq).toBe(a.seq);
  });

  it('republishes stored switchovers once, duplicates dropped', async () => {
    await ensureStreams(nc);
    const js = jetstream(nc);
    const got: string[] = [];
    const sub = nc.subscribe(subjects.switchover('p1'));
    const done = (async () => {
      for await (const m of sub) {
        got.push(m.string());
        if (got.length === 2) break;
      }
    })();
    await js.publish(subjects.switchoverStored('p1'), codec.encode({ n: 1 }), { msgID: 'sw:p1:1' });
    await js.publish(subjects.switchoverStored('p1'), codec.encode({ n: 1 }), { msgID: 'sw:p1:1' });
    await js.publish(subjects.switchoverStored('p1'), codec.encode({ n: 2 }), { msgID: 'sw:p1:2' });
    await done;
    expect(got.map((s) => JSON.parse(s).n)).toEqual([1, 2]);
    const info = await (await ensureStreams(nc)).streams.info(SWITCHOVERS_STREAM);
    expect(info.state.messages).toBe(2);
  });
});
