import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { COMMANDS_STREAM, EVENTS_STREAM, SWITCHOVERS_STREAM } from '@ha/events';
import { BIN, Cluster, until } from '@ha/test';

// A log truncated under the SCS (a lowered max_msgs drops its start silently) is reported, and never
// acted on: no claim, no commands (docs/security.md, "What the product checks itself").
describe('a truncated log', () => {
  let c: Cluster;
  beforeAll(async () => {
    c = await Cluster.start({
      hosts: ['host-a', 'host-b'],
      pairs: [{ primary: 'app1', backup: 'app1b', primaryHost: 'host-a', backupHost: 'host-b' }],
    });
  });
  afterAll(async () => c?.stop());

  it('is reported by every SCS, which stop acting; a primary that fails then is not switched over', async () => {
    const jsm = await jetstream(c.nc).jetstreamManager();
    const before = await jsm.streams.info(EVENTS_STREAM);
    expect(before.state.first_seq).toBe(1);
    // what a red-team run did: lower max_msgs; JetStream drops the oldest messages, no error anywhere
    await jsm.streams.update(EVENTS_STREAM, { ...before.config, max_msgs: Math.max(2, before.state.messages - 5) });
    expect((await jsm.streams.info(EVENTS_STREAM)).state.first_seq).toBeGreaterThan(1);
    for (const id of ['scs-1', 'scs-2']) {
      const s = await until(`${id} reports the truncated log`, async () => {
        const st = await c.status(500, id);
        return st.scs.problems?.some((p) => /truncated: its first sequence is \d+, not 1/.test(p)) ? st : undefined;
      }, 15_000);
      expect(s.scs.problems?.some((p) => /max_msgs is \d+, expected -1/.test(p))).toBe(true);
    }
    await c.waitStatus('no SCS acting', (st) => (st.scs.acting === false ? st : undefined), 15_000);
    const st = await c.status();
    const victim = c.app(st, 'app1');
    expect(st.pairs[0]?.current).toBe('app1');
    process.kill(victim.pid!, 'SIGKILL');
    const exitSeq = await until('AppExited stored', async () => (await c.events()).find((e) => e.data['type'] === 'AppExited' && e.data['app'] === 'app1')?.seq, 15_000);
    for (const id of ['scs-1', 'scs-2']) {
      await until(`${id} saw the exit`, async () => {
        const s = await c.status(500, id);
        return (s.scs.lastSeq ?? 0) >= exitSeq && c.app(s, 'app1').status === 'stopped' ? s : undefined;
      }, 15_000);
    }
    const commands = await jsm.streams.info(COMMANDS_STREAM);
    const promotes: unknown[] = [];
    for (let seq = commands.state.first_seq; seq <= commands.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(COMMANDS_STREAM, { seq }).catch(() => null);
      const cmd = m?.json<{ action: string; app: string; causeSeq: number }>();
      if (cmd && cmd.causeSeq >= exitSeq) promotes.push(cmd);
    }
    expect(promotes).toEqual([]);
    expect((await jsm.streams.info(SWITCHOVERS_STREAM)).state.messages).toBe(0);
    const table = spawnSync(process.execPath, [BIN.hactl, 'status'], { encoding: 'utf8', env: { ...process.env, HA_NATS_URL: c.nats.url } });
    expect(table.stdout).toMatch(/^PROBLEM \(scs-\d\): not acting: HA_EVENTS: truncated/m);
    const logs = [...c.scs.values()].map((p) => readFileSync(p.logFile, 'utf8')).join('\n');
    expect(logs).toMatch(/the log is not the one decisions were made from/);
  });
});
