/**
 * What a queue's settings make of a message it takes in: when it expires
 * there, and at which priority level it waits (pure functions of the
 * queue's policy and the message, parsed once per publish).
 */
import type { Message } from './message.js';
import type { QueuePolicy } from './queue-arguments.js';

/** When a message routed now expires in the queue: the smaller of x-message-ttl and its own expiration; 0 for never. */
export function expiryIn(policy: QueuePolicy, message: Message, now: number): number {
  let ttl = policy.messageTtl;
  const own = message.ttl;
  if (own !== undefined) ttl = ttl === undefined ? own : Math.min(ttl, own);
  return ttl === undefined ? 0 : now + ttl;
}

/** Its priority level in a priority queue (capped at x-max-priority); 0 in any other queue. */
export function priorityIn(policy: QueuePolicy, message: Message): number {
  const max = policy.maxPriority;
  if (max === undefined) return 0;
  const p = message.properties.priority ?? 0;
  return p > max ? max : p;
}
