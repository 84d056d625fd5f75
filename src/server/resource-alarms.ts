/**
 * The resource alarms in force (memory, disk), shared by the server and every
 * connection. While any is set, a publishing connection is blocked at its
 * next frame (see Connection): it gets connection.blocked with RabbitMQ's
 * reason text and its socket is no longer read, while connections that only
 * consume keep flowing so queues drain.
 */

/**
 * Client input (bytes, all connections together) after which memory is
 * sampled again without waiting for the timer: on loopback a few publishers
 * can send hundreds of MB between two timer ticks, far past the watermark.
 * One RSS read per 4 MiB received costs nothing measurable.
 */
export const INPUT_SAMPLE_BYTES = 4 * 1024 * 1024;

export class ResourceAlarms {
  memory = false;
  disk = false;
  /** Called after every INPUT_SAMPLE_BYTES of client input (the broker samples memory). */
  onInputSample: (() => void) | null = null;
  private unsampled = 0;

  /** True while any alarm is set: publishers are to be blocked. */
  get blocking(): boolean {
    return this.memory || this.disk;
  }

  /** The reason in connection.blocked, worded as RabbitMQ's rabbit_reader does. */
  get reason(): string {
    if (this.memory && this.disk) return 'low on memory & low on disk';
    return this.disk ? 'low on disk' : 'low on memory';
  }

  /** A connection read `bytes` from its socket. */
  inputReceived(bytes: number): void {
    this.unsampled += bytes;
    if (this.unsampled < INPUT_SAMPLE_BYTES) return;
    this.unsampled = 0;
    this.onInputSample?.();
  }
}
