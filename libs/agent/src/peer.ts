import { request } from 'node:http';
import { RoleAnswerSchema, type RoleAnswer } from '@ha/events';

/** Default bound on the peer check (DESIGN rule 8). */
export const PEER_TIMEOUT_MS = 500;
const MAX_BODY = 64 * 1024;

/**
 * What the peer said: `down` (no answer in time, nothing listening: the peer is gone), `answer`
 * (a parsed role answer) or `bad` (something answered, but not a role answer).
 */
export type PeerResult =
  | Readonly<{ kind: 'down'; why: string }>
  | Readonly<{ kind: 'answer'; answer: RoleAnswer }>
  | Readonly<{ kind: 'bad'; why: string }>;

/** Errors that mean nobody is there to answer. */
const GONE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'EPIPE', 'ETIMEDOUT']);

/** Asks `GET http://<peer>/ha/role` with a hard timeout covering connect, headers and body. */
export const askPeer = (peer: string, timeoutMs = PEER_TIMEOUT_MS): Promise<PeerResult> => {
  let url: URL;
  try {
    url = new URL(`http://${peer}/ha/role`);
  } catch {
    return Promise.resolve({ kind: 'bad', why: `bad peer endpoint ${JSON.stringify(peer)}` });
  }
  return new Promise<PeerResult>((resolve) => {
    let done = false;
    const finish = (r: PeerResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'down', why: `no answer within ${timeoutMs} ms` }), timeoutMs);
    const req = request(url, { method: 'GET', headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) finish({ kind: 'bad', why: 'answer too large' });
        else chunks.push(c);
      });
      res.on('error', (e) => finish({ kind: 'down', why: e.message }));
      res.on('end', () => {
        if (res.statusCode !== 200) return finish({ kind: 'bad', why: `HTTP ${res.statusCode ?? '?'}` });
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return finish({ kind: 'bad', why: 'answer is not JSON' });
        }
        const r = RoleAnswerSchema.safeParse(body);
        finish(r.success ? { kind: 'answer', answer: r.data } : { kind: 'bad', why: 'answer is not a role answer' });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if ((e.code !== undefined && GONE.has(e.code)) || e.message === 'socket hang up') finish({ kind: 'down', why: e.code ?? e.message });
      else finish({ kind: 'bad', why: e.message });
    });
    req.end();
  });
};
