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

export class DurableReplies {
  /** A reply is waiting: frames are held. */
  waiting = false;
  private types: number[] = [];
  private payloads: Buffer[] = [];

  constructor(
    private readonly channel: RepliesOwner,
    private readonly conn: ChannelHost,
    private readonly durability: () => Durability,
  ) {}

  /** Frames held behind the waiting reply. */
  get held(): number {
    return this.types.length;
  }

  hold(type: number, payload: Buffer): void {
    this.types.push(type);
    this.payloads.push(payload);
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
    this.durability().whenDurable({ onDurable: () => this.durable(method) }, 0, definitionsOnly);
  }

  /** The channel is closing: nothing held matters any more. */
  clear(): void {
    this.waiting = false;
    this.types = [];
    this.payloads = [];
  }

  private durable(method: MethodInit): void {
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
    this.waiting = false;
    const types = this.types;
    const payloads = this.payloads;
    this.types = [];
    this.payloads = [];
    let i = 0;
    while (i < types.length && !this.waiting && this.channel.isOpen()) this.handleHeld(types[i]!, payloads[i++]!);
    if (this.waiting && i < types.length) {
      // Waiting again: what is left goes before anything held since.
      this.types = types.slice(i).concat(this.types);
      this.payloads = payloads.slice(i).concat(this.payloads);
    }
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
