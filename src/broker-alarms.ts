/**
 * The broker's two resource alarms (memory high watermark, free disk), each
 * logged in RabbitMQ's words when it sets and clears, and handed to the
 * server, which blocks publishing connections while either is set.
 */
import type { ResolvedOptions } from './config.js';
import type { Logger } from './observe/logger.js';
import { DiskAlarm } from './server/disk-alarm.js';
import { MemoryAlarm } from './server/memory-alarm.js';
import type { Server } from './server/server.js';

export function memoryAlarm(options: ResolvedOptions, logger: Logger, server: Server): MemoryAlarm {
  const memory = new MemoryAlarm({
    limit: options.memoryHighWatermark,
    interval: options.memoryCheckInterval,
    onChange: (on, used, limit) => {
      // RabbitMQ's wording: "memory resource limit alarm set on node ... Publishers will be blocked until this alarm clears".
      if (on) logger.warn({ used, limit }, 'memory resource limit alarm set: publishers will be blocked until this alarm clears');
      else logger.info({ used, limit }, 'memory resource limit alarm cleared');
      server.setMemoryAlarm(on);
    },
    logger,
  });
  server.alarms.onInputSample = () => memory.check();
  return memory;
}

export function diskAlarm(options: ResolvedOptions, logger: Logger, server: Server): DiskAlarm {
  return new DiskAlarm({
    dir: options.dataDir ?? '.',
    limit: options.diskFreeLimit,
    interval: options.diskCheckInterval,
    onChange: (on, free, limit) => {
      // RabbitMQ's wording: "disk resource limit alarm set on node ... Publishers will be blocked until this alarm clears".
      if (on) logger.warn({ free, limit }, 'disk resource limit alarm set: publishers will be blocked until this alarm clears');
      else logger.info({ free, limit }, 'disk resource limit alarm cleared');
      server.setDiskAlarm(on);
    },
    onSampleError: (err) => logger.error({ err, dataDir: options.dataDir }, 'cannot read the free disk space of the data directory'),
    logger,
  });
}
