// Child process for test/unit/log-drain.test.ts: logs three lines to stdout through
// pino's default (asynchronous) destination while the only libuv threadpool thread
// (UV_THREADPOOL_SIZE=1) is busy, so the first line's write is still pending, then
// exits from whenLogsWritten's callback (dist/: `npm run build` first).
import { pbkdf2 } from 'node:crypto';
import { pino } from 'pino';

const { whenLogsWritten } = await import(new URL('../../dist/observe/log-drain.js', import.meta.url).href);
const logger = pino({ base: null, timestamp: false });
pbkdf2('busy', 'threadpool', 200_000, 32, 'sha256', () => {});
logger.info('first');
logger.info('second');
logger.info('third');
whenLogsWritten(logger, () => process.exit(0));
