import { randomBytes } from 'node:crypto';

/** 16 random bytes in URL-safe base64 (22 characters), as RabbitMQ's generated names. */
function randomSuffix(): string {
  return randomBytes(16).toString('base64url');
}

/** A server-generated queue name, `amq.gen-…`. */
export const generatedQueueName = (): string => `amq.gen-${randomSuffix()}`;

/** A server-generated consumer tag, `amq.ctag-…`. */
export const generatedConsumerTag = (): string => `amq.ctag-${randomSuffix()}`;
