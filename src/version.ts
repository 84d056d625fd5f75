import { readFileSync } from 'node:fs';

/** Warren's version, from package.json (one level above both src/ and dist/). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The RabbitMQ release whose behaviour Warren follows (reply codes and texts,
 * defaults, extensions): 3.13.7, the last 3.13 patch release. Reported as
 * `version` in connection.start's server-properties, next to product
 * "RabbitMQ", because clients choose behaviour by them (see server-properties.ts).
 */
export const RABBITMQ_COMPATIBLE_VERSION = '3.13.7';
