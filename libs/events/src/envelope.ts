/**
 * A message as the decider sees it: its position in `HA_EVENTS` (`seq`), the JetStream time at
 * which it was stored (`at`, epoch milliseconds) and the parsed input.
 */
export type Recorded<T> = Readonly<{ seq: number; at: number; input: T }>;

/** Result of parsing a message that crossed a process boundary. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

// One encoder and one decoder for every message: constructing a TextDecoder per message cost
// about a fifth of a replay's parse time (bench/src/projection.ts). Both are stateless here (no
// `stream` option), so sharing them is safe.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const codec = {
  encode: (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value)),
  decodeJson: (data: Uint8Array): Parsed<unknown> => {
    try {
      return { ok: true, value: JSON.parse(decoder.decode(data)) as unknown };
    } catch (e) {
      return { ok: false, error: `not JSON: ${(e as Error).message}` };
    }
  },
};
