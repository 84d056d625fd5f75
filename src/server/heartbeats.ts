import type { Socket } from 'node:net';
import { guarded } from '../observe/guard.js';
import type { Logger } from '../observe/logger.js';
import { HEARTBEAT_FRAME } from '../protocol/index.js';
import type { ReadGate } from './read-gate.js';

/**
 * Heartbeats of one connection. Ticks every half interval: sends a heartbeat
 * when nothing else went out since the last tick; a peer silent for two whole
 * intervals is gone (`onTimeout`).
 */
export class Heartbeats {
  private readonly timer: NodeJS.Timeout;
  /** Output went out since the last tick: no heartbeat needed (true at first: the handshake's replies just went out). */
  private sentSinceTick = true;
  private lastBytesRead: number;
  /** socket.writableLength at the last tick (a paused reader is alive while its output drains). */
  private lastWritable = 0;
  private silentTicks = 0;
  private stopped = false;

  constructor(
    private readonly socket: Socket,
    /** The negotiated interval in seconds (> 0). */
    readonly seconds: number,
    private readonly gate: ReadGate,
    /** Bytes encoded but not yet flushed (a flush is coming: no heartbeat needed). */
    private readonly pendingBytes: () => number,
    private readonly onTimeout: () => void,
    logger: Logger,
    connId: number,
  ) {
    this.lastBytesRead = socket.bytesRead;
    this.timer = setInterval(guarded(logger, 'heartbeat tick', { conn: connId }, () => this.tick()), (seconds * 1000) / 2);
    this.timer.unref();
  }

  /** Something was written to the socket. */
  sent(): void {
    this.sentSinceTick = true;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.stopped) return;
    const read = this.socket.bytesRead;
    const writable = this.socket.writableLength;
    // A socket we do not read cannot be heard. Blocked by an alarm: the peer counts as
    // alive (RabbitMQ pauses its heartbeat monitor). Paused because it does not read:
    // alive while its output drains, so a peer that vanished is still dropped. Paused while a
    // reply waits for durability with many frames held behind it: alive (the wait is ours).
    const heard = read !== this.lastBytesRead || this.gate.blocked || this.gate.holdingBack || (this.gate.backlogged && writable < this.lastWritable);
    if (heard) this.silentTicks = 0;
    else this.silentTicks++;
    this.lastBytesRead = read;
    this.lastWritable = writable;
    if (this.silentTicks >= 4) {
      this.stop();
      this.onTimeout();
      return;
    }
    // As RabbitMQ: every half interval, a heartbeat unless something else went out since
    // the last tick. Our own heartbeats do not count as output (they bypass the write
    // queue), so an idle peer hears from us every half interval, well within the one
    // interval of silence some clients (amqp-client.js) tolerate.
    if (this.sentSinceTick) this.sentSinceTick = false;
    else if (this.pendingBytes() === 0) this.socket.write(HEARTBEAT_FRAME);
  }
}
