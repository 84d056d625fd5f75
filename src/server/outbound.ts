import type { Socket } from 'node:net';
import { guarded } from '../observe/guard.js';
import type { Logger } from '../observe/logger.js';
import { ByteWriter } from '../protocol/index.js';
import type { ConfirmWriter } from './channel-host.js';
import { scheduleFlush, type Flushable } from './flush-scheduler.js';
import type { ReadGate } from './read-gate.js';

/** Outbound bytes (socket buffer + not yet flushed) above which deliveries pause until the socket drains. */
export const OUTBOUND_HIGH_WATER = 512 * 1024;
/**
 * Unsent bytes in the socket buffer above which the client's input is no
 * longer read until the buffer drains. Deliveries stop at OUTBOUND_HIGH_WATER,
 * so only replies can pile up this far (a client sending basic.get or declares
 * without reading the answers): not reading its requests bounds them.
 */
export const INPUT_PAUSE_BACKLOG = 4 * 1024 * 1024;

/** The connection as its write queue sees it. */
export interface OutboundHost {
  readonly id: number;
  readonly peer: string;
  readonly logger: Logger;
  /** The connection is open (only then does a backlog pause its input). */
  readonly isOpen: boolean;
  /** Output went to the socket (no heartbeat needed at the next tick). */
  outputSent(): void;
  /** The socket drained: stalled deliveries may go on. */
  resumeDeliveries(): void;
}

/**
 * A connection's write queue: frames are encoded into `out` and written once
 * per tick in one corked batch (one writev), publisher confirms gathered
 * first. Tracks the socket's backlog: past OUTBOUND_HIGH_WATER deliveries
 * pause until it drains; past INPUT_PAUSE_BACKLOG the client's input is not
 * read either.
 */
export class Outbound implements Flushable {
  readonly out = new ByteWriter();
  private flushScheduled = false;
  /** A consumer found the socket backed up: resume deliveries once it drains. */
  private stalled = false;
  private waitingForDrain = false;
  /** Channels with publisher confirms to send at the next flush. */
  private readonly confirmPending: ConfirmWriter[] = [];
  /** The connection is gone: nothing more is written. */
  private closed = false;
  /** Corked writes, RabbitMQ's send_cnt. */
  private writes = 0;

  constructor(
    private readonly socket: Socket,
    private readonly gate: ReadGate,
    private readonly host: OutboundHost,
  ) {
    // Draining resumes deliveries (dispatch): a failure there is logged, never the end of the process.
    socket.on('drain', guarded(host.logger, 'resuming deliveries after a drain', { conn: host.id }, () => this.onDrain()));
  }

  get sendCount(): number {
    return this.writes;
  }

  /** Output encoded or written but not yet taken by the kernel. */
  get pending(): boolean {
    return this.flushScheduled || this.out.pendingBytes > 0 || this.socket.writableLength > 0;
  }

  requestFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    scheduleFlush(this);
  }

  /** `writer` has confirms to send: they go out (batched with `multiple`) at the next flush. */
  confirmsPending(writer: ConfirmWriter): void {
    this.confirmPending.push(writer);
    this.requestFlush();
  }

  /** Writes everything encoded since the last flush in one corked batch (one writev). */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    if (this.confirmPending.length > 0) {
      for (const ch of this.confirmPending) ch.writeConfirms();
      this.confirmPending.length = 0;
    }
    const chunks = this.out.drain();
    if (chunks.length === 0) return;
    const s = this.socket;
    this.host.outputSent();
    this.writes++;
    if (chunks.length === 1) s.write(chunks[0]!);
    else {
      s.cork();
      for (let i = 0; i < chunks.length; i++) s.write(chunks[i]!);
      s.uncork();
    }
    if (s.writableLength >= OUTBOUND_HIGH_WATER) {
      this.waitingForDrain = true;
      if (s.writableLength >= INPUT_PAUSE_BACKLOG && !this.gate.backlogged && this.host.isOpen) {
        this.host.logger.info({ conn: this.host.id, peer: this.host.peer, buffered: s.writableLength }, 'client is not reading its socket: input paused until the output drains');
        this.gate.setBacklogged(true);
      }
    } else if (this.stalled) this.resume();
  }

  /** Room for more deliveries? False once the socket and the unflushed output pass the high-water mark. */
  get writable(): boolean {
    if (this.closed) return false;
    if (this.waitingForDrain || this.socket.writableLength + this.out.pendingBytes >= OUTBOUND_HIGH_WATER) {
      if (!this.stalled) this.host.logger.debug({ conn: this.host.id, peer: this.host.peer, buffered: this.outboundBytes }, 'client socket backed up: deliveries paused until it drains');
      this.stalled = true;
      return false;
    }
    return true;
  }

  /** Bytes written but not yet taken by the kernel, plus those encoded and not yet flushed. */
  get outboundBytes(): number {
    return this.socket.writableLength + this.out.pendingBytes;
  }

  /** The connection is gone: nothing more is written or scheduled. */
  close(): void {
    this.closed = true;
  }

  private onDrain(): void {
    this.waitingForDrain = false;
    this.gate.setBacklogged(false);
    if (this.stalled) this.resume();
  }

  private resume(): void {
    this.stalled = false;
    this.host.resumeDeliveries();
  }
}
