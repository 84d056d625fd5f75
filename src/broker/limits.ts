/**
 * Vhost and user limits (rabbitmqctl set_vhost_limits / set_user_limits).
 * A negative value means "no limit", as in RabbitMQ; 0 allows nothing.
 */
import { AmqpError, ReplyCode } from '../protocol/index.js';

export const VHOST_LIMIT_NAMES = ['max-connections', 'max-queues'] as const;
export const USER_LIMIT_NAMES = ['max-connections', 'max-channels'] as const;
export type VhostLimitName = (typeof VHOST_LIMIT_NAMES)[number];
export type UserLimitName = (typeof USER_LIMIT_NAMES)[number];

/** Limits as set (names as RabbitMQ's JSON); a missing entry is no limit. */
export type Limits<N extends string> = Partial<Record<N, number>>;
export type VhostLimits = Limits<VhostLimitName>;
export type UserLimits = Limits<UserLimitName>;

/** The limit in force, or undefined when none (unset or negative). */
export function limitOf<N extends string>(limits: Limits<N> | undefined, name: N): number | undefined {
  const v = limits?.[name];
  return v === undefined || v < 0 ? undefined : v;
}

/** queue.declare of a new queue beyond max-queues: 406, rabbit_amqqueue's text. */
export function assertQueueLimit(limits: VhostLimits, queueCount: number, queue: string, vhost: string): void {
  const max = limitOf(limits, 'max-queues');
  if (max !== undefined && queueCount >= max) {
    throw new AmqpError(ReplyCode.PreconditionFailed, `cannot declare queue '${queue}': queue limit in vhost '${vhost}' (${max}) is reached`);
  }
}
