import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@ha/bus';
import { AnnouncementSchema, codec, DecisionRecordSchema, operatorKind, parseWith, subjects, type OperatorInput } from '@ha/events';

export type Outcome = { code: 0 | 1 | 2; message: string };

const TYPES = { switchover: 'SwitchoverRequested', pause: 'PauseRequested', resume: 'ResumeRequested' } as const;
const parseDecision = parseWith(DecisionRecordSchema);

/**
 * Appends an operator request to the log and waits for its outcome: for a switchover the
 * announcement caused by it (exit 0) or the refusal notice (exit 1); for pause/resume the notice.
 */
export const request = async (nc: NatsConnection, cmd: keyof typeof TYPES, pair: string, timeoutMs: number): Promise<Outcome> => {
  const requestId = randomUUID();
  const type = TYPES[cmd];
  let requestSeq = Infinity;
  let settle: (o: Outcome) => void = () => undefined;
  const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
  const early: { causeSeq: number; text: string }[] = [];
  const subs = [
    nc.subscribe(subjects.decision('notice'), {
      callback: (_e, m) => {
        const r = parseDecision(m.data);
        if (!r.ok) return;
        const e = r.value.effect as { notice?: string; requestId?: string; detail?: string };
        if (e.requestId !== requestId) return;
        if (e.notice === 'switchover-refused') settle({ code: 1, message: `refused: ${e.detail ?? ''}` });
        else if ((e.notice === 'paused' || e.notice === 'resumed') && (e.detail ?? '').startsWith('no pair')) settle({ code: 1, message: `refused: ${e.detail ?? ''}` });
        else if (e.notice === 'paused' || e.notice === 'resumed') settle({ code: 0, message: e.detail ?? e.notice });
      },
    }),
    nc.subscribe(subjects.switchover(pair), {
      callback: (_e, m) => {
        const a = AnnouncementSchema.safeParse(JSON.parse(m.string()));
        if (!a.success) return;
        const text = `switched over ${a.data.pair}: ${a.data.from.app}@${a.data.from.host} -> ${a.data.to.app}@${a.data.to.host} (${a.data.reason}, epoch ${a.data.epoch})`;
        if (a.data.causeSeq === requestSeq) settle({ code: 0, message: text });
        else early.push({ causeSeq: a.data.causeSeq, text });
      },
    }),
  ];
  const input: OperatorInput = { type, v: 1, pair, requestId, by: `hactl@${process.env['USER'] ?? 'unknown'}` };
  let timer: NodeJS.Timeout | undefined;
  try {
    const pa = await jetstream(nc).publish(subjects.operator(operatorKind[type]), codec.encode(input), { msgID: `op:${requestId}`, timeout: Math.min(timeoutMs, 5000) });
    requestSeq = pa.seq;
    const got = early.find((x) => x.causeSeq === requestSeq);
    if (got) settle({ code: 0, message: got.text });
    const late = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve({ code: 2, message: `no outcome within ${timeoutMs} ms (is an SCS active? see hactl status)` }), timeoutMs);
    });
    return await Promise.race([outcome, late]);
  } catch (e) {
    return { code: 2, message: `request not stored: ${(e as Error).message}` };
  } finally {
    clearTimeout(timer);
    for (const s of subs) s.unsubscribe();
  }
};
