import type { Message } from './message.js';
import type { FlowSource } from './queue.js';

/**
 * What a session needs from the transport: the server's channel implements
 * it by encoding frames. The model calls it synchronously; it never blocks.
 */
export interface SessionSink {
  /** False while the client's socket is backed up: no deliveries until `Session.resume()`. */
  readonly writable: boolean;
  deliver(consumerTag: string, deliveryTag: number, redelivered: boolean, message: Message): void;
  /** An unroutable mandatory message goes back to its publisher (basic.return). */
  returnMessage(replyCode: number, replyText: string, message: Message): void;
  /** Publisher confirm for `seq` (basic.ack, or basic.nack when `ok` is false). */
  confirm(seq: number, ok: boolean): void;
  /** The broker cancelled a consumer (its queue was deleted). */
  consumerCancelled(consumerTag: string): void;
  /** The publisher is feeding a congested queue: stop reading it until the queue catches up. */
  throttle(source: FlowSource): void;
}

/** What basic.get returns when the queue had a message. */
export interface GetResult {
  deliveryTag: number;
  redelivered: boolean;
  message: Message;
  /** Messages left in the queue after this one. */
  messageCount: number;
}
