/**
 * Helpers for the RabbitMQ-extension suites (test/integration/ext-*.test.ts):
 * asserting a dead-lettered message's full x-death history, and reading a
 * message's raw content header (to check the field types RabbitMQ writes,
 * which amqplib's decoder folds into plain numbers).
 */
import { expect } from 'vitest';

/** One x-death entry as expected, without its `time` (checked against a window instead). */
export interface Death {
  count: number;
  reason: 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';
  queue: string;
  exchange: string;
  'routing-keys': string[];
  'original-expiration'?: string;
}

type Headers = Record<string, unknown> | undefined;

/** amqplib decodes a timestamp as { '!': 'timestamp', value: seconds }. */
function timestampSeconds(v: unknown): number {
  expect(v).toMatchObject({ '!': 'timestamp' });
  return (v as { value: number }).value;
}

/**
 * Asserts the x-death header is exactly `expected` (newest first): every key
 * of every entry, nothing more, each `time` a timestamp (seconds) within
 * [from, to] (ms since the epoch). Returns the entries' times.
 */
export function expectXDeath(headers: Headers, expected: Death[], window: { from: number; to: number }): number[] {
  const xdeath = headers?.['x-death'];
  expect(Array.isArray(xdeath), 'x-death is an array').toBe(true);
  const entries = xdeath as Record<string, unknown>[];
  expect(entries.map(({ time: _t, ...rest }) => rest)).toEqual(expected);
  return entries.map((e) => {
    const t = timestampSeconds(e['time']);
    expect(t).toBeGreaterThanOrEqual(Math.floor(window.from / 1000));
    expect(t).toBeLessThanOrEqual(Math.ceil(window.to / 1000));
    return t;
  });
}

/** The x-first-death-* headers RabbitMQ sets on the first death only. */
export function firstDeath(headers: Headers): { reason: unknown; queue: unknown; exchange: unknown } {
  return { reason: headers?.['x-first-death-reason'], queue: headers?.['x-first-death-queue'], exchange: headers?.['x-first-death-exchange'] };
}


/** Does the raw header hold the field `key` with type tag `tag` (e.g. 'count' as 'l')? */
export function hasField(header: Buffer, key: string, tag: string): boolean {
  return header.indexOf(Buffer.concat([Buffer.from([key.length]), Buffer.from(key, 'latin1'), Buffer.from(tag, 'latin1')])) >= 0;
}

export { rawGet } from './raw-client.js';
