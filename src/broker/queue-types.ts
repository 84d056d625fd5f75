/**
 * The types around a Queue: who owns it, what it needs from its vhost and its
 * consumers, flow control between it and publishers, and the outcome of
 * offering it a message (kept apart so the modules using them need not
 * import queue.ts).
 */
import type { FieldTable } from '../protocol/index.js';
import type { QueueEntry } from './message.js';
import type { QueuePolicy } from './queue-arguments.js';

/** The connection that owns an exclusive queue (identity only). */
export interface Owner {
  readonly id: number;
}

export interface QueueOptions {
  durable: boolean;
  exclusiveOwner: Owner | null;
  autoDelete: boolean;
  arguments: FieldTable;
  /** What the arguments ask for (validated by the vhost at declare). */
  policy: QueuePolicy;
}

/**
 * Flow control between publishers and a queue whose consumers fall behind:
 * above FLOW_HIGH ready messages (while a consumer has prefetch credit, so the
 * backlog is a matter of speed, not of consumers holding back), publishers to
 * it stop being read until it is down to FLOW_LOW. This plays the part of
 * RabbitMQ's credit flow in a single-threaded broker: reading publishers
 * cannot starve delivery.
 */
export const FLOW_HIGH = 4096;
export const FLOW_LOW = 1024;
/** A consumer that acked within this many ms counts as active for flow control. */
export const ACTIVE_CONSUMER_MS = 200;

/** What a queue needs from a consumer subscribed to it (Consumer, in consumer.ts). */
export interface QueueConsumer {
  readonly tag: string;
  readonly exclusive: boolean;
  /** Deliveries need no ack: the queue is done with a message once it is handed over. */
  readonly noAck: boolean;
  /** x-priority: higher ones are served first while they have credit. */
  readonly priority: number;
  /** May it take another message now (credit, and room on the socket)? */
  canTake(): boolean;
  /** Prefetch allows another delivery (whatever the state of the socket). */
  hasCredit(): boolean;
  deliver(entry: QueueEntry): void;
  /** The queue was deleted under it. */
  queueDeleted(): void;
}

/** A publisher paused by flow control (the server's connection). */
export interface FlowWaiter {
  flowResumed(): void;
}

/** Something a publisher can be paused on: a congested queue, or a message log behind on writes. */
export interface FlowSource {
  addFlowWaiter(waiter: FlowWaiter): void;
}

/** Outcome of offering a message to a queue. */
export const enum Enqueued {
  Accepted,
  /** x-overflow reject-publish(-dlx): the queue is full; the publisher gets a nack. */
  Rejected,
}
