/**
 * The x-arguments of queue.declare that change a queue's behaviour, checked
 * as RabbitMQ checks them: a wrong type or range is a 406 with RabbitMQ's text,
 * e.g. "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q' in
 * vhost '/': {value_negative,-1}".
 */
import { AmqpError, ReplyCode, fieldTypeName, type FieldTable, type FieldValue } from '../protocol/index.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
export type QueueType = 'classic' | 'quorum';

/** The behaviour a queue's arguments ask for (undefined/0 = not set). */
export interface QueuePolicy {
  messageTtl: number | undefined;
  expires: number | undefined;
  maxLength: number | undefined;
  maxLengthBytes: number | undefined;
  overflow: Overflow;
  deadLetterExchange: string | undefined;
  deadLetterRoutingKey: string | undefined;
  maxPriority: number | undefined;
  singleActiveConsumer: boolean;
  type: QueueType;
  deliveryLimit: number | undefined;
}

function invalid(key: string, what: string, detail: string): AmqpError {
  return new AmqpError(ReplyCode.PreconditionFailed, `invalid arg '${key}' for ${what}: ${detail}`);
}

function isInteger(v: FieldValue): v is number | bigint {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
}

/** A non-negative integer argument (check_non_neg_int_arg): {unacceptable_type,T} or {value_negative,N}. */
function integerArg(args: FieldTable, key: string, what: string): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (!isInteger(v)) throw invalid(key, what, `{unacceptable_type,${fieldTypeName(args, key)}}`);
  const n = Number(v);
  if (n < 0) throw invalid(key, what, `{value_negative,${n}}`);
  return n;
}

/**
 * A longstr argument. RabbitMQ accepts only longstr here (a binary 'x' value
 * is {unacceptable_type,binary}), so a Buffer is refused too.
 */
function stringArg(args: FieldTable, key: string, what: string): string | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  throw invalid(key, what, `{unacceptable_type,${fieldTypeName(args, key)}}`);
}

/** RabbitMQ's ?MAX_EXPIRY_TIMER (erlang:send_after's limit) for TTLs and x-expires. */
export const MAX_EXPIRY = 4_294_967_295;

/** rabbit_misc:check_expiry: negative or beyond the timer limit is refused. */
function checkExpiry(n: number): string | null {
  if (n > MAX_EXPIRY) return `{value_too_big,${n}}`;
  if (n < 0) return `{value_negative,${n}}`;
  return null;
}

/** x-message-ttl (zero allowed) and x-expires (zero refused) as rabbit_amqqueue checks them. */
function expiryArg(args: FieldTable, key: string, what: string, allowZero: boolean): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (!isInteger(v)) throw invalid(key, what, `{unacceptable_type,${fieldTypeName(args, key)}}`);
  const n = Number(v);
  if (!allowZero && n === 0) throw invalid(key, what, '{value_zero,0}');
  const bad = checkExpiry(n);
  if (bad !== null) throw invalid(key, what, bad);
  return n;
}

/**
 * Validates and reads a queue's arguments. `what` is "queue 'q' in vhost '/'".
 * Unknown x- arguments are accepted and ignored, as RabbitMQ does.
 *
 * The checks run in RabbitMQ's order, so the first bad argument is the one
 * reported: the DLX name type (rabbit_channel's queue.declare), then
 * rabbit_amqqueue:declare_args() in its order, then the queue type's own
 * checks (quorum: auto-delete, exclusive, non-durable).
 */
export function parseQueueArguments(args: FieldTable, what: string, flags: { durable: boolean; exclusive: boolean; autoDelete: boolean }): QueuePolicy {
  // rabbit_channel checks the DLX name first (rabbit_misc:r_arg): "invalid type 'T' for arg ... in queue ...".
  const dlx = args['x-dead-letter-exchange'];
  if (dlx !== undefined && typeof dlx !== 'string') {
    throw new AmqpError(ReplyCode.PreconditionFailed, `invalid type '${fieldTypeName(args, 'x-dead-letter-exchange')}' for arg 'x-dead-letter-exchange' in ${what}`);
  }
  const expires = expiryArg(args, 'x-expires', what, false);
  const messageTtl = expiryArg(args, 'x-message-ttl', what, true);
  const deadLetterExchange = dlx;
  const deadLetterRoutingKey = stringArg(args, 'x-dead-letter-routing-key', what);
  if (deadLetterRoutingKey !== undefined && deadLetterExchange === undefined) {
    throw invalid('x-dead-letter-routing-key', what, 'routing_key_but_no_dlx_defined');
  }
  const maxLength = integerArg(args, 'x-max-length', what);
  const maxLengthBytes = integerArg(args, 'x-max-length-bytes', what);
  integerArg(args, 'x-max-in-memory-length', what);
  integerArg(args, 'x-max-in-memory-bytes', what);
  const maxPriority = integerArg(args, 'x-max-priority', what);
  // RabbitMQ caps priorities at 255: {max_value_exceeded,N} (check_max_priority_arg).
  if (maxPriority !== undefined && maxPriority > 255) throw invalid('x-max-priority', what, `{max_value_exceeded,${maxPriority}}`);
  const overflowRaw = stringArg(args, 'x-overflow', what) ?? 'drop-head';
  if (overflowRaw !== 'drop-head' && overflowRaw !== 'reject-publish' && overflowRaw !== 'reject-publish-dlx') {
    throw invalid('x-overflow', what, 'invalid_overflow');
  }
  const mode = stringArg(args, 'x-queue-mode', what);
  if (mode !== undefined && mode !== 'default' && mode !== 'lazy') throw invalid('x-queue-mode', what, 'invalid_queue_mode');
  const sac = args['x-single-active-consumer'];
  if (sac !== undefined && typeof sac !== 'boolean') throw invalid('x-single-active-consumer', what, `{unacceptable_type,${fieldTypeName(args, 'x-single-active-consumer')}}`);
  const rawType = stringArg(args, 'x-queue-type', what) ?? 'classic';
  if (rawType === 'stream') {
    throw new AmqpError(ReplyCode.PreconditionFailed, `invalid arg 'x-queue-type' for ${what}: stream queues are not supported by Warren`);
  }
  if (rawType !== 'classic' && rawType !== 'quorum') throw invalid('x-queue-type', what, 'invalid_queue_type');
  const deliveryLimit = integerArg(args, 'x-delivery-limit', what);
  if (rawType === 'quorum') {
    // Quorum queues are replicated, durable, shared queues: RabbitMQ refuses the other flags,
    // in this order (rabbit_quorum_queue:declare → check_auto_delete, check_exclusive, check_non_durable).
    if (flags.autoDelete) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid property 'auto-delete' for ${what}`);
    if (flags.exclusive) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid property 'exclusive-owner' for ${what}`);
    if (!flags.durable) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid property 'non-durable' for ${what}`);
  }
  return {
    messageTtl,
    expires,
    maxLength,
    maxLengthBytes,
    overflow: overflowRaw,
    deadLetterExchange,
    deadLetterRoutingKey,
    maxPriority,
    singleActiveConsumer: sac === true,
    type: rawType,
    deliveryLimit,
  };
}

/**
 * A message's own TTL from its `expiration` property (a string of
 * milliseconds). Invalid values are a 406 at publish with RabbitMQ's reasons
 * (rabbit_basic:parse_expiration, which uses Erlang's string:to_integer: an
 * optional sign and digits, then nothing else):
 * no_integer, {leftover_string,"…"}, {value_negative,N}, {value_too_big,N}.
 */
export function parseExpiration(expiration: string): number {
  const m = /^[+-]?\d+/.exec(expiration);
  if (!m) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid expiration '${expiration}': no_integer`);
  if (m[0].length < expiration.length) {
    throw new AmqpError(ReplyCode.PreconditionFailed, `invalid expiration '${expiration}': {leftover_string,${JSON.stringify(expiration.slice(m[0].length))}}`);
  }
  const n = Number(m[0]);
  const bad = checkExpiry(n);
  if (bad !== null) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid expiration '${expiration}': ${bad}`);
  return n;
}
