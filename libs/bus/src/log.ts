import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; `HA_LOG_LEVEL` sets the level (default info). */
export const createLogger = (name: string, bindings: Record<string, string> = {}): Logger =>
  pino({ name, level: process.env['HA_LOG_LEVEL'] ?? 'info', base: { pid: process.pid, ...bindings } });
