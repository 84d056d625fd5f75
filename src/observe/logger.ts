import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Human-readable output via pino-pretty (only when asked: it is slower). */
  pretty?: boolean;
}

/** The broker's structured logger. Quiet by default: info for lifecycle, warn for client errors. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (options.pretty) {
    return pino({ name: 'warren', level, transport: { target: 'pino-pretty', options: { colorize: false } } });
  }
  return pino({ name: 'warren', level });
}
