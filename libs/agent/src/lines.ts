/** Longest line accepted from the socket; a longer one is dropped (and reported) rather than buffered. */
export const MAX_LINE = 64 * 1024;

/**
 * Splits a byte stream into newline-delimited lines. `onLine` gets each complete line; `onTooLong`
 * is told when a line exceeded `MAX_LINE` (the rest of it up to the next newline is skipped).
 */
export class LineSplitter {
  #buf = '';
  #skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: string): void {
    let text = this.#buf + chunk;
    this.#buf = '';
    for (;;) {
      const i = text.indexOf('\n');
      if (i < 0) break;
      const line = text.slice(0, i);
      text = text.slice(i + 1);
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      if (line.trim() !== '') this.onLine(line);
    }
    if (this.#skipping) return;
    if (text.length > MAX_LINE) {
      this.#skipping = true;
      this.onTooLong();
      return;
    }
    this.#buf = text;
  }
}
