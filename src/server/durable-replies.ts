/**
 * Replies that wait for durability (store/durability-port.ts) — declare-ok,
 * delete-ok and bind-ok after the definitions journal sync, tx.commit-ok
 * after the message log sync — and the request order they must keep.
 *
 * While a reply waits, the channel's later frames are held and handled, in
 * order, only after it is sent: RabbitMQ's channel process likewise handles
 * one method at a time, so no later reply, consume-ok or delivery can
 * overtake the one still waiting. Holding a payload is safe: the frame reader
 * hands out slices of socket chunks (or copies), never a buffer it reuses.
 */
import { AmqpError, ReplyCode, type MethodInit } from '../protocol/index.js';
import type { Durability } from '../store/durability-port.js';
import type { ChannelHost } from './channel-host.js';

/** What DurableReplies needs from its channel. */
export interface RepliesOwner {
  readonly id: number;
  /** Still open: a reply whose wait ends after the channel closed is dropped. */
  isOpen(): boolean;
  reply(method: MethodInit): void;
  /** Handles one frame (as the connection would): throws connection errors. */
  onFrame(type: number, payload: Buffer): void;
}

/**
 * Frames held past either limit pause reading the connection until they are
 * handled: a client pipelining publishes behind a tx.commit-ok that waits
 * (followers slow to acknowledge, a full disk) would otherwise grow the
 * broker's memory without bound.
 */
const MAX_HELD_FRAMES = 256;
const MAX_HELD_BYTES = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

export class DurableReplies {
  /** Frames are held: a reply waits, or frames held behind one are not all handled yet. */
  waiting = false;
  /** A reply waits for durability. */
  private replyPending = false;
  /** drain() is handling held frames (one of which may start, and at once end, another wait). */
  private draining = false;
  /** Held frames from `next` on (those before it are handled). */
  private types: number[] = [];
  private payloads: Buffer[] = [];
  private next = 0;
  /** Payload bytes held. */
  private bytes = 0;
  /** This channel asked the connection to stop reading (ReadGate.holdBack). */
  private holdingBack = false;
  /** Flow control stopped drain(): it goes on once publishing may (ReadGate.whenPublishing). */
  private readonly resumeDrain = (): void => {
    if (!this.replyPending && !this.draining && this.next < this.types.length) this.drain();
  };

  constructor(
    private readonly channel: RepliesOwner,
    private readonly conn: ChannelHost,
    private readonly durability: () => Durability,
  ) {}

  /** Frames held behind the waiting reply. */
  get held(): number {
    return this.types.length - this.next;
  }

  hold(type: number, payload: Buffer): void {
    this.types.push(type);
    this.payloads.push(payload);
    this.bytes += payload.length;
    if (!this.holdingBack && (this.types.length - this.next > MAX_HELD_FRAMES || this.bytes > MAX_HELD_BYTES)) {
      this.holdingBack = true;
      this.conn.gate.holdBack(true);
    }
  }

  /**
   * The reply to a definition change: sent once the definitions are durable.
   * At once when the request wrote nothing (`changesBefore` is
   * Durability.definitionChanges from before it) and nothing else is pending
   * (a transient declare, the common redeclare). A redeclare of a queue whose
   * own declaration is not durable yet (another channel's nowait declare, or
   * one whose declare-ok still waits) waits for it too: a crash would
   * otherwise lose a queue this client was told exists.
   */
  replyAfterChanges(changesBefore: number, method: MethodInit): void {
    const durability = this.durability();
    if (durability.definitionChanges === changesBefore && durability.definitionsDurable) this.channel.reply(method);
    else this.replyWhenDurable(method, true);
  }

  /** Sends `method` once what it acknowledges is durable (see Durability.whenDurable); later frames wait for it. */
  replyWhenDurable(method: MethodInit, definitionsOnly = false): void {
    this.waiting = true;
    this.replyPending = true;
    this.durability().whenDurable({ onDurable: () => this.durable(method) }, 0, definitionsOnly);
  }

  /** The channel is closing: nothing held matters any more. */
  clear(): void {
    this.waiting = false;
    this.replyPending = false;
    this.types = [];
    this.payloads = [];
    this.next = 0;
    this.bytes = 0;
    this.releaseInput();
  }

  private durable(method: MethodInit): void {
    this.replyPending = false;
    if (!this.channel.isOpen()) return this.clear();
    try {
      this.channel.reply(method);
    } catch (err) {
      // The frames held behind this reply can no longer be answered in order: drop them
      // (so the channel does not hold every later frame forever) and fail the connection.
      this.clear();
      this.conn.closeWithError(new AmqpError(ReplyCode.InternalError, err instanceof Error ? err.message : String(err)));
      throw err;
    }
    if (!this.draining) return this.drain();
    // A held frame being handled by drain() started this wait, and it ended at once: drain() goes on.
    this.waiting = false;
  }

  /**
   * Handles the held frames in order until none is left, a reply waits
   * again, or flow control (or a resource alarm) pauses this publisher: then
   * the rest stays held, ahead of anything held since.
   */
  private drain(): void {
    this.draining = true;
    this.waiting = false;
    const gate = this.conn.gate;
    try {
      while (this.next < this.types.length) {
        if (this.replyPending) return;
        if (!this.channel.isOpen()) return this.clear();
        if (gate.publishingPaused) {
          this.waiting = true;
          return gate.whenPublishing(this.resumeDrain);
        }
        const i = this.next++;
        const payload = this.payloads[i]!;
        this.payloads[i] = EMPTY; // its socket chunk need not stay alive
        this.bytes -= payload.length;
        this.handleHeld(this.types[i]!, payload);
      }
    } finally {
      this.draining = false;
      this.compact();
    }
  }

  /** Drops the handled frames; reads the connection again once what is held is under the limits. */
  private compact(): void {
    if (this.next >= this.types.length) {
      this.types = [];
      this.payloads = [];
      this.bytes = 0;
    } else if (this.next > 0) {
      this.types.splice(0, this.next);
      this.payloads.splice(0, this.next);
    }
    this.next = 0;
    if (this.types.length <= MAX_HELD_FRAMES && this.bytes <= MAX_HELD_BYTES) this.releaseInput();
  }

  private releaseInput(): void {
    if (!this.holdingBack) return;
    this.holdingBack = false;
    this.conn.gate.holdBack(false);
  }

  /** A held frame, handled now: its errors go where the connection would send them. */
  private handleHeld(type: number, payload: Buffer): void {
    try {
      this.channel.onFrame(type, payload);
    } catch (err) {
      if (err instanceof AmqpError) return this.conn.closeWithError(err);
      this.conn.logger.error({ conn: this.conn.id, channel: this.channel.id, err }, 'internal error handling client input');
      this.conn.closeWithError(new AmqpError(ReplyCode.InternalError, err instanceof Error ? err.message : String(err)));
    }
  }
}
