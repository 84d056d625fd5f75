/** A broker logger whose lines a test can read (what was logged, at which level, with which fields). */
import { pino, type Level, type Logger } from 'pino';

export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A pino logger (level info unless told) whose lines are kept, JSON-parsed, in `lines`. */
export function capturingLogger(level: Level = 'info'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger: Logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

/** The lines logged at error or above (pino level 50+). */
export const errorLines = (lines: LogLine[]): LogLine[] => lines.filter((l) => l.level >= 50);
