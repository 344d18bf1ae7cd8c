/**
 * Who may do what on the bus (DESIGN section 3b): the one list that `hactl secure init` writes into
 * nats-server's `authorization` block and that docs/security.md describes. Subjects only: the broker
 * checks every publish and subscribe against them, JetStream API calls included (an API call is a
 * publish on `$JS.API.<...>`). Found by experiment on nats-server 2.9.10 with the v3 client (see
 * docs/decisions/0014-identities-on-the-bus.md): each entry is a subject the product's own code
 * publishes to, nothing more.
 */
import {
  COMMANDS_STREAM,
  DECISIONS_STREAM,
  EVENTS_STREAM,
  HEARTBEATS_STREAM,
  PRIMARIES_BUCKET,
  SWITCHOVERS_STREAM,
  subjects,
} from './subjects.js';
import { streamSpecs } from './streams.js';

/** The fixed identities; every host has one more, `host-<id>`. */
export const SERVICE_IDENTITIES = ['scs', 'operator', 'reader', 'admin'] as const;
export type ServiceIdentity = (typeof SERVICE_IDENTITIES)[number];

/** `host-<id>` or one of the service identities. */
export type Identity = Readonly<{ kind: 'host'; host: string }> | Readonly<{ kind: ServiceIdentity }>;

export const identityName = (i: Identity): string => (i.kind === 'host' ? `host-${i.host}` : i.kind);

/** What one identity may publish and subscribe to; `allowResponses`: it may answer requests it received. */
export type Permissions = Readonly<{ publish: readonly string[]; subscribe: readonly string[]; allowResponses: boolean }>;

/** The stream behind the KV bucket of current primaries. */
export const PRIMARIES_STREAM = `KV_${PRIMARIES_BUCKET}`;

/** The durable consumer through which the LCA of `host` reads its commands. */
export const commandConsumerName = (host: string): string => `lca-${host}`;

/**
 * Every client that has an identity uses an inbox prefix of its own, `_INBOX.<public key>`, and may
 * subscribe only there: replies (JetStream acks, pulled messages, status answers) meant for one
 * client cannot be read by another.
 */
export const inboxPrefix = (publicKey: string): string => `_INBOX.${publicKey}`;

const API = '$JS.API';
/** Metadata and reads that change nothing. */
const accountInfo = `${API}.INFO`;
const streamInfo = `${API}.STREAM.INFO.*`;
/**
 * Reading a stream through consumers the reader creates (ordered consumers: a name, then the
 * filter). An ordered consumer that resets (after a reconnect, a missed heartbeat) deletes its old
 * consumer: found under faults (`npm run chaos -- --secure`). The names are random and no identity
 * but admin may list them, so in practice each deletes only its own; the worst another reader of
 * the stream could do is make an ordered consumer start over.
 */
const consume = (stream: string): string[] => [`${API}.CONSUMER.CREATE.${stream}.>`, `${API}.CONSUMER.INFO.${stream}.*`, `${API}.CONSUMER.MSG.NEXT.${stream}.*`, `${API}.CONSUMER.DELETE.${stream}.*`];
const getMessage = (stream: string): string => `${API}.STREAM.MSG.GET.${stream}`;
const kvRead = [getMessage(PRIMARIES_STREAM), `${API}.DIRECT.GET.${PRIMARIES_STREAM}.>`, ...consume(PRIMARIES_STREAM), `$JS.FC.${PRIMARIES_STREAM}.>`];
const kvWrite = `$KV.${PRIMARIES_BUCKET}.>`;

/** Streams (and the KV bucket's stream) the SCS may create when missing; never update, purge or delete. */
export const creatableStreams: readonly string[] = [...streamSpecs.map((s) => s.name), PRIMARIES_STREAM];

const host = (id: string, inbox: string): Permissions => {
  const consumer = commandConsumerName(id);
  return {
    publish: [
      subjects.heartbeat(id),
      `ha.evt.host.${id}.>`,
      accountInfo,
      streamInfo,
      getMessage(EVENTS_STREAM),
      ...consume(EVENTS_STREAM),
      // its own durable consumer only, and only with its own filter: on 2.9 the filter is part of
      // the create subject, so the broker refuses a consumer on another host's commands
      `${API}.CONSUMER.CREATE.${COMMANDS_STREAM}.${consumer}.${subjects.commandsForHost(id)}`,
      `${API}.CONSUMER.INFO.${COMMANDS_STREAM}.${consumer}`,
      `${API}.CONSUMER.MSG.NEXT.${COMMANDS_STREAM}.${consumer}`,
      `$JS.ACK.${COMMANDS_STREAM}.${consumer}.>`,
      getMessage(PRIMARIES_STREAM),
      `${API}.DIRECT.GET.${PRIMARIES_STREAM}.>`,
    ],
    subscribe: [`${inbox}.>`],
    allowResponses: false,
  };
};

const scs = (inbox: string): Permissions => ({
  publish: [
    'ha.evt.scs.>',
    subjects.commandsAll,
    subjects.decisionsAll,
    subjects.switchoverStoredAll,
    'ha.scs.hb.>',
    kvWrite,
    accountInfo,
    streamInfo,
    ...creatableStreams.map((s) => `${API}.STREAM.CREATE.${s}`),
    ...[EVENTS_STREAM, HEARTBEATS_STREAM, DECISIONS_STREAM, SWITCHOVERS_STREAM].flatMap((s) => [getMessage(s), ...consume(s)]),
    // a command whose id was taken is read back to tell our own (a re-decided input) from a forgery
    getMessage(COMMANDS_STREAM),
    ...kvRead,
  ],
  // status requests, the SCS heartbeats of the others, decisions; replies in its own inbox
  subscribe: ['ha.>', `${inbox}.>`],
  allowResponses: true,
});

const operator = (inbox: string): Permissions => ({
  publish: [
    'ha.evt.op.>',
    subjects.status,
    `${subjects.status}.*`,
    accountInfo,
    streamInfo,
    ...[EVENTS_STREAM, DECISIONS_STREAM, SWITCHOVERS_STREAM].flatMap((s) => [getMessage(s), ...consume(s)]),
    ...kvRead,
  ],
  subscribe: [subjects.switchoverAll, subjects.decisionsAll, `${inbox}.>`],
  allowResponses: false,
});

const reader = (inbox: string): Permissions => ({
  publish: [subjects.status, `${subjects.status}.*`, accountInfo, `${API}.STREAM.INFO.${PRIMARIES_STREAM}`, ...kvRead],
  subscribe: [subjects.switchoverAll, `${inbox}.>`],
  allowResponses: false,
});

const admin: Permissions = { publish: ['>'], subscribe: ['>'], allowResponses: false };

/** The permissions of `identity`, whose public key is `publicKey` (its inbox prefix derives from it). */
export const permissionsOf = (identity: Identity, publicKey: string): Permissions => {
  const inbox = inboxPrefix(publicKey);
  switch (identity.kind) {
    case 'host':
      return host(identity.host, inbox);
    case 'scs':
      return scs(inbox);
    case 'operator':
      return operator(inbox);
    case 'reader':
      return reader(inbox);
    case 'admin':
      return admin;
  }
};
