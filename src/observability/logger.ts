/**
 * The server's own log (pino, JSON lines): what tenement itself did and every unexpected error
 * with its id. Instance output does not go here; it goes to the log store (log-capture.ts).
 * @module
 */
import { pino, type Logger } from 'pino';

export interface LoggerOptions {
  /** Default: env TENEMENT_LOG_LEVEL, else `info`. */
  readonly level?: string;
  /** File descriptor to write to (default 1, stdout, where `ten serve` prints its status lines). */
  readonly fd?: number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.TENEMENT_LOG_LEVEL ?? 'info',
      base: { name: 'tenement' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    // Synchronous writes: the server log is low-volume and must not lose its last lines when the
    // process exits right after an error.
    pino.destination({ dest: options.fd ?? 1, sync: true }),
  );
}
