import type { Message } from './message.js';

/** The pseudo-queue of direct reply-to, and the prefix of the reply addresses it hands out. */
export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';
export const REPLY_TO_PREFIX = 'amq.rabbitmq.reply-to.';

/** A channel consuming from amq.rabbitmq.reply-to. */
export interface ReplyTarget {
  deliverReply(message: Message): void;
}

/**
 * Direct reply-to in one vhost: the channels consuming from
 * amq.rabbitmq.reply-to, by the opaque part of the reply address each was
 * handed. A reply published to that address on the default exchange goes
 * straight to its channel, with no queue in between.
 */
export class DirectReplyTo {
  private readonly targets = new Map<string, ReplyTarget>();

  register(key: string, target: ReplyTarget): void {
    this.targets.set(key, target);
  }

  unregister(key: string): void {
    this.targets.delete(key);
  }

  /**
   * queue.declare of the direct reply-to pseudo-queue (RabbitMQ answers any
   * declare of it as a passive one): "amq.rabbitmq.reply-to" always exists, a
   * reply address while its channel still consumes replies.
   */
  exists(name: string): boolean {
    if (name === REPLY_TO_QUEUE) return true;
    return name.startsWith(REPLY_TO_PREFIX) && this.targets.has(name.slice(REPLY_TO_PREFIX.length));
  }

  /** Is a publish to `routingKey` on the default exchange a reply (whether or not its channel is still there)? */
  static isReplyAddress(exchangeName: string, routingKey: string): boolean {
    return exchangeName === '' && routingKey.startsWith(REPLY_TO_PREFIX);
  }

  /** Delivers a reply to its channel: 1, or 0 when that channel is gone (the reply is dropped). */
  deliver(routingKey: string, message: Message): number {
    const target = this.targets.get(routingKey.slice(REPLY_TO_PREFIX.length));
    if (!target) return 0;
    target.deliverReply(message);
    return 1;
  }
}
