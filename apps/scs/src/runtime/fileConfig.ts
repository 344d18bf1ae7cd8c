import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ClusterConfig, Timing } from '@ha/events';

const CHUNK = 1 << 16;

/**
 * The pieces of `JSON.stringify(config)`, in order, none much longer than 64 KB: the text of a
 * configuration of 100,000 applications is about 21 MB, and it need not exist as one string.
 */
export function* jsonChunks(config: ClusterConfig): Generator<string> {
  let buf = '{';
  let first = true;
  for (const [k, v] of Object.entries(config) as [string, unknown][]) {
    if (v === undefined) continue;
    buf += `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    if (!Array.isArray(v)) {
      buf += JSON.stringify(v);
      continue;
    }
    buf += '[';
    for (let i = 0; i < v.length; i++) {
      buf += (i === 0 ? '' : ',') + (JSON.stringify(v[i]) ?? 'null');
      if (buf.length >= CHUNK) {
        yield buf;
        buf = '';
      }
    }
    buf += ']';
  }
  yield buf + '}';
}

/**
 * A configuration's digest: two configurations have the same one exactly when their JSON texts
 * (`JSON.stringify`) are the same, which is what "the file differs from the log's" means.
 */
export const configDigest = (config: ClusterConfig): string => {
  const h = createHash('sha256');
  for (const s of jsonChunks(config)) h.update(s);
  return h.digest('hex');
};

/**
 * The configuration of the SCS's own file, kept only for offering it to the log: its digest, what
 * the SCS reads before the log has a configuration (cluster, timing) and its text compressed (about
 * a twentieth of it, off the heap). The parsed file (48 MB of objects at 100,000 applications) is
 * not kept.
 */
export class FileConfig {
  private constructor(
    readonly cluster: string,
    readonly timing: Timing,
    readonly applications: number,
    readonly digest: string,
    readonly bytes: number,
    private readonly deflated: Buffer,
  ) {}

  static of(config: ClusterConfig): FileConfig {
    const text = Buffer.from(JSON.stringify(config));
    return new FileConfig(config.cluster, { ...config.timing }, config.applications.length, configDigest(config), text.length, deflateRawSync(text, { level: 1 }));
  }

  /** The `ConfigApplied` message that carries it, byte for byte `codec.encode` of that input. */
  message(epoch: number, scs: string): Uint8Array {
    const head = Buffer.from(JSON.stringify({ type: 'ConfigApplied', v: 1, epoch, scs }).slice(0, -1) + ',"config":');
    const out = Buffer.allocUnsafe(head.length + this.bytes + 1);
    head.copy(out, 0);
    inflateRawSync(this.deflated).copy(out, head.length);
    out[out.length - 1] = 0x7d; // '}'
    return out;
  }
}
