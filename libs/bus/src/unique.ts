import { createHash, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { JetStreamClient, JetStreamManager, JetStreamPublishOptions, PubAck } from '@nats-io/jetstream';

/** A message id already taken by a message of other content (or subject) than ours. */
export type ForgedDuplicate = Readonly<{
  subject: string;
  msgID: string;
  /** Where the message that took the id is stored (the ack of a duplicate names it). */
  stream: string;
  storedSeq: number;
  storedSubject: string | null;
  /** The id ours was published under instead; null when even that was taken (then another is tried). */
  republishedAs: string | null;
}>;

const sameContent = (a: Uint8Array, b: Uint8Array): boolean => {
  if (Buffer.from(a).equals(Buffer.from(b))) return true;
  try {
    return isDeepStrictEqual(JSON.parse(Buffer.from(a).toString('utf8')), JSON.parse(Buffer.from(b).toString('utf8')));
  } catch {
    return false;
  }
};

/** A suffix that only our own content gives: a retry (or another SCS deciding the same) lands on the same id. */
export const contentTag = (subject: string, data: Uint8Array): string => createHash('sha256').update(subject).update('\n').update(data).digest('hex').slice(0, 16);

/**
 * Publishes with `msgID` like `js.publish`, and makes sure our message is the one stored: JetStream
 * drops a message whose id it has seen within the duplicate window, so anyone who published a
 * message under our (predictable) id first would silence ours. A duplicate ack names the stored
 * message's sequence: it is read back, and if its subject or content differs from ours, that is
 * reported (`onForged`) and ours is published again under `<msgID>~<content tag>` (still de-duplicated
 * against our own retries), then, if that was taken too, under a random suffix.
 */
export const publishUnique = async (
  js: Pick<JetStreamClient, 'publish'>,
  jsm: JetStreamManager,
  subject: string,
  data: Uint8Array,
  opts: Partial<JetStreamPublishOptions> & { msgID: string },
  onForged: (f: ForgedDuplicate) => void,
): Promise<PubAck> => {
  const ids = [opts.msgID, `${opts.msgID}~${contentTag(subject, data)}`, `${opts.msgID}~${randomBytes(8).toString('hex')}`];
  let ack: PubAck | undefined;
  for (let i = 0; i < ids.length; i++) {
    const msgID = ids[i] as string;
    ack = await js.publish(subject, data, { ...opts, msgID });
    if (!ack.duplicate) return ack;
    const stored = await jsm.streams.getMessage(ack.stream, { seq: ack.seq });
    if (stored && stored.subject === subject && sameContent(stored.data, data)) return ack; // ours, stored before
    onForged({ subject, msgID, stream: ack.stream, storedSeq: ack.seq, storedSubject: stored?.subject ?? null, republishedAs: ids[i + 1] ?? null });
  }
  throw new Error(`message id ${opts.msgID} and its fallbacks were all taken by other messages (last stored at seq ${ack?.seq ?? '?'})`);
};
