/**
 * Helpers for the RabbitMQ-extension suites (test/integration/ext-*.test.ts):
 * asserting a dead-lettered message's full x-death history, and reading a
 * message's raw content header (to check the field types RabbitMQ writes,
 * which amqplib's decoder folds into plain numbers).
 */
import { expect } from 'vitest';
import { Constants, MethodId } from '../../src/protocol/index.js';
import { RawClient } from './raw-client.js';

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

/**
 * basic.get (no-ack) over a raw socket: the content-header payload exactly as
 * the broker sent it, and the body. Null when the queue is empty.
 */
export async function rawGet(port: number, queue: string): Promise<{ header: Buffer; body: Buffer } | null> {
  const c = await RawClient.open(port);
  try {
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.BasicGet, args: { queue, noAck: true } });
    const reply = await c.waitFor((f) => f.channel === 1 && f.type === Constants.FRAME_METHOD && (f.method?.id === MethodId.BasicGetOk || f.method?.id === MethodId.BasicGetEmpty), 2000, 'basic.get-ok');
    if (reply.method?.id === MethodId.BasicGetEmpty) return null;
    const header = await c.waitFor((f) => f.channel === 1 && f.type === Constants.FRAME_HEADER, 2000, 'content header');
    const size = Number(header.payload.readBigUInt64BE(4));
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < size) {
      const f = await c.waitFor((fr) => fr.channel === 1 && fr.type === Constants.FRAME_BODY, 2000, 'body frame');
      chunks.push(f.payload);
      got += f.payload.length;
    }
    return { header: header.payload, body: Buffer.concat(chunks) };
  } finally {
    await c.close().catch(() => c.destroy());
  }
}

/** Does the raw header hold the field `key` with type tag `tag` (e.g. 'count' as 'l')? */
export function hasField(header: Buffer, key: string, tag: string): boolean {
  return header.indexOf(Buffer.concat([Buffer.from([key.length]), Buffer.from(key, 'latin1'), Buffer.from(tag, 'latin1')])) >= 0;
}
