/**
 * Comparing declare arguments as RabbitMQ does when an exchange or queue is
 * declared again: only the arguments that define the entity are compared,
 * and a mismatch is a 406 naming the argument and both values.
 */
import { AmqpError, ReplyCode, fieldTypeName, type FieldTable } from '../protocol/index.js';
import { fieldValueText } from './field-text.js';
import { fieldEquals } from './routing.js';

/** "the value '2000' of type 'short'", or "none" when absent (RabbitMQ's wording). */
function describe(table: FieldTable, key: string): string {
  const value = table[key];
  if (value === undefined) return 'none';
  const shown = typeof value === 'object' && value !== null && !Buffer.isBuffer(value) ? fieldValueText(value) : String(value);
  return `the value '${shown}' of type '${fieldTypeName(table, key)}'`;
}

/** Queue arguments RabbitMQ compares on redeclare. */
export const QUEUE_EQUIVALENCE_KEYS = [
  'x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length',
  'x-max-length-bytes', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-max-priority', 'x-overflow',
  'x-queue-mode', 'x-single-active-consumer', 'x-queue-type', 'x-queue-version', 'x-delivery-limit',
] as const;

/** Exchange arguments RabbitMQ compares on redeclare. */
export const EXCHANGE_EQUIVALENCE_KEYS = ['alternate-exchange'] as const;

/** Throws 406 when a compared argument differs. `what` is e.g. "queue 'q' in vhost '/'". */
export function assertArgsEquivalent(current: FieldTable, received: FieldTable, keys: readonly string[], what: string): void {
  for (const key of keys) {
    const a = received[key];
    const b = current[key];
    if (a === undefined && b === undefined) continue;
    if (a !== undefined && b !== undefined && fieldEquals(a, b)) continue;
    throw new AmqpError(ReplyCode.PreconditionFailed, `inequivalent arg '${key}' for ${what}: received ${describe(received, key)} but current is ${describe(current, key)}`);
  }
}

/** Throws 406 when a declare flag differs: "inequivalent arg 'durable' for … received 'false' but current is 'true'". */
export function assertFlagEquivalent(name: string, current: boolean | string, received: boolean | string, what: string): void {
  if (current !== received) {
    throw new AmqpError(ReplyCode.PreconditionFailed, `inequivalent arg '${name}' for ${what}: received '${received}' but current is '${current}'`);
  }
}
