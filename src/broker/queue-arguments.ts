/**
 * The x-arguments of queue.declare that change a queue's behaviour, checked
 * as RabbitMQ checks them: a wrong type or range is a 406 with RabbitMQ's text,
 * e.g. "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q' in
 * vhost '/': {value_negative,-1}".
 */
import { AmqpError, ReplyCode, inferTag, type FieldTable, type FieldValue } from '../protocol/index.js';

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

/** RabbitMQ's type names, for {unacceptable_type,T}. */
const TYPE_NAMES: Record<string, string> = {
  t: 'bool', b: 'byte', B: 'unsignedbyte', s: 'short', u: 'unsignedshort', I: 'signedint', i: 'unsignedint',
  l: 'long', f: 'float', d: 'double', D: 'decimal', S: 'longstr', A: 'array', T: 'timestamp', F: 'table', V: 'void', x: 'binary',
};

export function typeName(v: FieldValue): string {
  return TYPE_NAMES[inferTag(v)] ?? 'unknown';
}

function invalid(key: string, what: string, detail: string): AmqpError {
  return new AmqpError(ReplyCode.PreconditionFailed, `invalid arg '${key}' for ${what}: ${detail}`);
}

function isInteger(v: FieldValue): v is number | bigint {
  return (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
}

/** An integer argument: `min` 0 allows zero ({value_negative,N}); `min` 1 refuses it too ({value_zero,0}). */
function integerArg(args: FieldTable, key: string, what: string, min: 0 | 1, max?: number): number | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (!isInteger(v)) throw invalid(key, what, `{unacceptable_type,${typeName(v)}}`);
  const n = Number(v);
  if (n < 0) throw invalid(key, what, `{value_negative,${n}}`);
  if (min === 1 && n === 0) throw invalid(key, what, '{value_zero,0}');
  if (max !== undefined && n > max) throw invalid(key, what, `{value_too_large,${n},${max}}`);
  return n;
}

function stringArg(args: FieldTable, key: string, what: string): string | undefined {
  const v = args[key];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  throw invalid(key, what, `{unacceptable_type,${typeName(v)}}`);
}

/**
 * Validates and reads a queue's arguments. `what` is "queue 'q' in vhost '/'".
 * Unknown x- arguments are accepted and ignored, as RabbitMQ does.
 */
export function parseQueueArguments(args: FieldTable, what: string, flags: { durable: boolean; exclusive: boolean; autoDelete: boolean }): QueuePolicy {
  const rawType = stringArg(args, 'x-queue-type', what) ?? 'classic';
  if (rawType === 'stream') {
    throw new AmqpError(ReplyCode.PreconditionFailed, `invalid arg 'x-queue-type' for ${what}: stream queues are not supported by Warren`);
  }
  if (rawType !== 'classic' && rawType !== 'quorum') {
    throw invalid('x-queue-type', what, `{unknown_queue_type,<<"${rawType}">>}`);
  }
  if (rawType === 'quorum') {
    // Quorum queues are replicated, durable, shared queues: RabbitMQ refuses the other flags.
    if (!flags.durable) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid property 'non-durable' for ${what}`);
    if (flags.exclusive) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid property 'exclusive-declare' for ${what}`);
    if (flags.autoDelete) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid property 'auto-delete' for ${what}`);
  }
  const overflowRaw = stringArg(args, 'x-overflow', what) ?? 'drop-head';
  if (overflowRaw !== 'drop-head' && overflowRaw !== 'reject-publish' && overflowRaw !== 'reject-publish-dlx') {
    throw invalid('x-overflow', what, `{invalid_overflow,<<"${overflowRaw}">>}`);
  }
  const sac = args['x-single-active-consumer'];
  if (sac !== undefined && typeof sac !== 'boolean') throw invalid('x-single-active-consumer', what, `{unacceptable_type,${typeName(sac)}}`);
  const deadLetterExchange = stringArg(args, 'x-dead-letter-exchange', what);
  const deadLetterRoutingKey = stringArg(args, 'x-dead-letter-routing-key', what);
  if (deadLetterRoutingKey !== undefined && deadLetterExchange === undefined) {
    throw invalid('x-dead-letter-routing-key', what, "Key 'x-dead-letter-routing-key' requires 'x-dead-letter-exchange' to be set");
  }
  return {
    messageTtl: integerArg(args, 'x-message-ttl', what, 0, 0xffff_ffff),
    expires: integerArg(args, 'x-expires', what, 1, 0xffff_ffff),
    maxLength: integerArg(args, 'x-max-length', what, 0),
    maxLengthBytes: integerArg(args, 'x-max-length-bytes', what, 0),
    overflow: overflowRaw,
    deadLetterExchange,
    deadLetterRoutingKey,
    maxPriority: integerArg(args, 'x-max-priority', what, 0, 255),
    singleActiveConsumer: sac === true,
    type: rawType,
    deliveryLimit: integerArg(args, 'x-delivery-limit', what, 0),
  };
}

/**
 * A message's own TTL from its `expiration` property (a string of
 * milliseconds). Invalid values are a 406 at publish, as in RabbitMQ.
 */
export function parseExpiration(expiration: string): number {
  if (!/^-?\d+$/.test(expiration)) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid expiration '${expiration}': no_integer`);
  const n = Number(expiration);
  if (n < 0) throw new AmqpError(ReplyCode.PreconditionFailed, `invalid expiration '${expiration}': {value_negative,${n}}`);
  return n;
}
