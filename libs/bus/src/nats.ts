import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  type JetStreamManager,
  type StoredMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { PRIMARIES_BUCKET, streamSpecs, type StreamSpec } from '@ha/events';
import type { Logger } from './log.js';
import { sleep } from './clock.js';
import { authOptions, authRefusal, isAuthRefusal, NO_AUTH, type NatsAuth } from './natsAuth.js';

export type { Msg, NatsConnection, KV, StoredMsg };

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)?([^@/]*)@(.*)$/i;

/**
 * The servers of a comma-separated URL list and the credentials some of them carry
 * (`nats://user:password@host:port` or `nats://token@host:port`): the client takes credentials only
 * as options, and would otherwise connect without them.
 */
export const natsServers = (url: string): { servers: string[]; user?: string; pass?: string; token?: string } => {
  const out: { servers: string[]; user?: string; pass?: string; token?: string } = { servers: [] };
  for (const part of url.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = USERINFO.exec(part);
    if (!m) {
      out.servers.push(part);
      continue;
    }
    const [, scheme = '', auth = '', rest = ''] = m;
    const i = auth.indexOf(':');
    if (i >= 0) {
      out.user = decodeURIComponent(auth.slice(0, i));
      out.pass = decodeURIComponent(auth.slice(i + 1));
    } else if (auth !== '') out.token = decodeURIComponent(auth);
    out.servers.push(scheme + rest);
  }
  return out;
};

/** A URL list fit for logs and messages: credentials replaced by `***`. */
export const redactUrl = (url: string): string =>
  url
    .split(',')
    .map((p) => {
      const m = USERINFO.exec(p.trim());
      return m ? `${m[1] ?? ''}***@${m[3] ?? ''}` : p.trim();
    })
    .join(',');

const options = (url: string, name: string, auth: NatsAuth) => {
  const { servers, ...credentials } = natsServers(url);
  return { ...credentials, ...authOptions(auth, servers), ...optionsRest(name) };
};

const optionsRest = (name: string) => ({
  name,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 250,
  reconnectJitter: 50,
  pingInterval: 2000,
  maxPingOut: 2,
  timeout: 2000,
  // A request would otherwise capture a stack trace up front in case it fails: about 17 µs, 6% of
  // the SCS's CPU at 10,000 hosts (scale profile). Errors still say which request failed.
  noAsyncTraces: true,
});

/** One attempt: for `hactl`, which exits 2 when NATS cannot be reached. */
export const connectOnce = (url: string, name: string, auth: NatsAuth = NO_AUTH): Promise<NatsConnection> => connect({ ...options(url, name, auth), maxReconnectAttempts: 0 });

/**
 * Connects and keeps the connection: the first failure is logged as one line, then it retries
 * quietly until NATS answers (`lca` and `scs` survive broker outages).
 */
export const connectForever = async (url: string, name: string, log: Logger, stopped: () => boolean = () => false, auth: NatsAuth = NO_AUTH): Promise<NatsConnection> => {
  let said = false;
  for (;;) {
    try {
      // an identity refused after a reconnect (auth.conf being fixed and reloaded) is retried, not given up
      const nc = await connect({ ...options(url, name, auth), ignoreAuthErrorAbort: true });
      if (said) log.info({ url: redactUrl(url) }, 'NATS reachable again');
      nc.closed().then((err) => { if (err) log.error({ err: err.message }, 'NATS connection closed'); }).catch(() => undefined);
      void (async () => {
        // one line per outage: a refused identity disconnects on every attempt
        let down = false;
        let refused = false;
        for await (const s of nc.status()) {
          if (s.type === 'disconnect' && !down) log.warn({ url: redactUrl(url) }, 'NATS disconnected; reconnecting');
          else if (s.type === 'error' && isAuthRefusal(s.error) && !refused) log.warn({ url: redactUrl(url), err: s.error.message }, `${authRefusal(auth)}; retrying`);
          else if (s.type === 'reconnect') log.info({ url: redactUrl(url) }, 'NATS reconnected');
          if (s.type === 'disconnect') down = true;
          if (s.type === 'error' && isAuthRefusal(s.error)) refused = true;
          if (s.type === 'reconnect') down = refused = false;
        }
      })();
      return nc;
    } catch (e) {
      if (stopped()) throw e;
      if (!said) log.warn({ url: redactUrl(url), err: (e as Error).message }, isAuthRefusal(e) ? `${authRefusal(auth)}; retrying` : 'NATS unreachable; retrying');
      said = true;
      await sleep(250);
    }
  }
};

const toStreamConfig = (s: StreamSpec): Partial<StreamConfig> & { name: string } => ({
  name: s.name,
  subjects: s.subjects,
  retention: RetentionPolicy.Limits,
  storage: StorageType.File,
  discard: DiscardPolicy.Old,
  max_msgs_per_subject: s.lastPerSubject ? 1 : -1,
  max_age: s.maxAgeMs ? s.maxAgeMs * 1_000_000 : 0,
  duplicate_window: s.duplicateWindowMs * 1_000_000,
  deny_delete: s.denyDeleteAndPurge ?? false,
  deny_purge: s.denyDeleteAndPurge ?? false,
  ...(s.republish ? { republish: { src: s.republish.src, dest: s.republish.dest } } : {}),
});

/** Creates the product's streams and KV bucket where missing; idempotent, any process may call it. */
export const ensureStreams = async (nc: NatsConnection): Promise<JetStreamManager> => {
  const jsm = await jetstreamManager(nc);
  for (const s of streamSpecs) {
    const cfg = toStreamConfig(s);
    try {
      await jsm.streams.info(s.name);
    } catch (e) {
      if (!(e instanceof JetStreamApiError) || e.code !== JetStreamApiCodes.StreamNotFound) throw e;
      try {
        await jsm.streams.add(cfg);
      } catch (e2) {
        // another process created it in between
        if (!(e2 instanceof JetStreamApiError) || !/already in use|exists/i.test(e2.message)) throw e2;
      }
    }
  }
  await openPrimaries(nc);
  return jsm;
};

export const openPrimaries = (nc: NatsConnection): Promise<KV> => new Kvm(nc).create(PRIMARIES_BUCKET, { history: 5 });

/** The last message stored on `subject`, or null. */
export const lastOnSubject = async (jsm: JetStreamManager, stream: string, subject: string): Promise<StoredMsg | null> =>
  jsm.streams.getMessage(stream, { last_by_subj: subject });

export const isWrongLastSequence = (e: unknown): boolean =>
  e instanceof JetStreamApiError &&
  (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown || /wrong last sequence/i.test(e.message));
