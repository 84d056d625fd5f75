/**
 * The disk alarm (RabbitMQ's disk_free_limit): free space on the data
 * directory's filesystem (statfs: blocks available to the broker × block
 * size, what `df` calls Available) is sampled on a timer and compared with the
 * limit. Below it the alarm is set and publishing connections are blocked, as
 * for the memory alarm, so the disk does not fill while consumers drain.
 *
 * The alarm is also set while the message log cannot write (writeFailed):
 * free space can run out between two samples, or another process can take it,
 * and publishers must then stop until the log's retried write succeeds.
 */
import { statfs, statfsSync, type StatsFs } from 'node:fs';
import { guarded, type ErrorLog } from '../observe/guard.js';

export interface DiskAlarmOptions {
  /** The directory whose filesystem is watched. */
  dir: string;
  /** Free space limit in bytes. */
  limit: number;
  interval: number;
  onChange: (active: boolean, free: number, limit: number) => void;
  /** A failed sample (statfs error): reported, the alarm stays as it was. */
  onSampleError: (err: Error) => void;
  /** Where a failed check is logged (the timer goes on). */
  logger?: ErrorLog;
}

export class DiskAlarm {
  private active = false;
  private forced: boolean | null = null;
  private lowSpace = false;
  private writeFailing = false;
  private free = -1;
  private timer: NodeJS.Timeout | null = null;
  private sampling = false;
  private sampleErrorReported = false;

  constructor(private readonly options: DiskAlarmOptions) {}

  get alarmed(): boolean {
    return this.active;
  }

  /** Free bytes at the last sample (-1 before the first). */
  get freeBytes(): number {
    return this.free;
  }

  /** Samples once synchronously (so the alarm is right before the broker listens), then on a timer. */
  start(): void {
    if (this.timer) return;
    try {
      this.record(freeSpace(statfsSync(this.options.dir)));
    } catch (err) {
      this.sampleFailed(err as Error);
    }
    this.timer = setInterval(guarded(this.options.logger, 'disk alarm check', {}, () => this.check()), this.options.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Samples the free space (asynchronously; one sample at a time). */
  check(): void {
    if (this.sampling) return;
    this.sampling = true;
    statfs(this.options.dir, guarded(this.options.logger, 'disk alarm check', {}, (err: NodeJS.ErrnoException | null, stats: StatsFs) => {
      this.sampling = false;
      if (err) this.sampleFailed(err);
      else if (this.timer) this.record(freeSpace(stats));
    }));
  }

  /** The message log failed to write (true) or wrote again (false). */
  writeFailed(failing: boolean): void {
    this.writeFailing = failing;
    this.update();
  }

  /** Holds the alarm set (true) or clear (false), or (null) hands it back to the sampler. */
  force(on: boolean | null): void {
    this.forced = on;
    this.update();
  }

  private record(free: number): void {
    this.free = free;
    this.sampleErrorReported = false;
    this.lowSpace = free < this.options.limit;
    this.update();
  }

  private sampleFailed(err: Error): void {
    if (this.sampleErrorReported) return;
    this.sampleErrorReported = true;
    this.options.onSampleError(err);
  }

  private update(): void {
    const on = this.forced ?? (this.lowSpace || this.writeFailing);
    if (on === this.active) return;
    this.active = on;
    this.options.onChange(on, this.free, this.options.limit);
  }
}

function freeSpace(stats: { bavail: number; bsize: number }): number {
  return stats.bavail * stats.bsize;
}
