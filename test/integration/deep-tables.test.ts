// Field tables nested 1,000, 5,000 and 50,000 deep, as RabbitMQ accepts them:
// in message headers (delivered as sent, dead-lettered by TTL and by
// max-length without disturbing anyone), in durable queue arguments (and a
// restart on that data directory), in client properties and in AMQPLAIN
// responses. Never a 541, never a crash.
//
// amqplib's own codec recurses (it encodes 1,000 levels, not 5,000), so the
// deep cases use raw sockets, with the deep bytes written by hand
// (test/helpers/deep-table.ts) rather than by Warren's encoder.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { Constants, MethodId, PropertyFlag, decodeContentProperties, type FieldTable, type FieldValue } from '../../src/protocol/index.js';
import { connect, queueStats, startBroker } from '../helpers/broker.js';
import { deepTable, deepTableBytes, deepTableMismatch, deepTableSize } from '../helpers/deep-table.js';
import { RawClient, methodFrame, type Frame } from '../helpers/raw-client.js';

const DEPTHS = [1_000, 5_000, 50_000];
/** Room for the deepest table (about 1.2 MB at 50,000 levels) in one frame. */
const FRAME_MAX = 4 * 1024 * 1024;
/** Generous: a 50,000-level table is a megabyte to decode on a loaded machine. */
const WAIT = 30_000;

const brokers: Broker[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await b.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function broker(options: Parameters<typeof startBroker>[0] = {}): Promise<Broker> {
  const b = await startBroker({ frameMax: FRAME_MAX, ...options });
  brokers.push(b);
  return b;
}

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-deep-'));
  dirs.push(d);
  return d;
}

// ------------------------------------------------------------------ bytes by hand

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const shortstr = (s: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
const longstr = (s: string): Buffer => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);

/** A table { key: <the deep table>, ...extra longstr entries }, with its length prefix. */
function tableWithDeep(key: string, depth: number, extra: Record<string, string> = {}): Buffer {
  const entries = [shortstr(key), Buffer.from('F'), deepTableBytes(depth)];
  for (const [k, v] of Object.entries(extra)) entries.push(shortstr(k), Buffer.from('S'), longstr(v));
  const content = Buffer.concat(entries);
  return Buffer.concat([u32(content.length), content]);
}

/** A content-header payload: headers { deep: … }, then delivery-mode and expiration when given. */
function contentHeader(bodySize: number, depth: number, o: { persistent?: boolean; expiration?: string } = {}): Buffer {
  let flags = PropertyFlag.Headers;
  if (o.persistent) flags |= PropertyFlag.DeliveryMode;
  if (o.expiration !== undefined) flags |= PropertyFlag.Expiration;
  const fixed = Buffer.alloc(14);
  fixed.writeUInt16BE(60, 0);
  fixed.writeUInt32BE(bodySize, 8);
  fixed.writeUInt16BE(flags, 12);
  const parts = [fixed, tableWithDeep('deep', depth)];
  if (o.persistent) parts.push(Buffer.from([2]));
  if (o.expiration !== undefined) parts.push(shortstr(o.expiration));
  return Buffer.concat(parts);
}

/** queue.declare (class 50, method 10) with arguments { x-deep: <the deep table>, ...extra }. */
function queueDeclarePayload(queue: string, durable: boolean, depth: number, extra: Record<string, string> = {}): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt16BE(50, 0);
  head.writeUInt16BE(10, 2);
  return Buffer.concat([head, shortstr(queue), Buffer.from([durable ? 0b10 : 0]), tableWithDeep('x-deep', depth, extra)]);
}

// ------------------------------------------------------------------ raw client steps

async function rawClient(b: Broker, o: Parameters<RawClient['handshake']>[0] = {}): Promise<RawClient> {
  const c = await RawClient.connect(b.port);
  await c.handshake(o);
  await c.openChannel(1);
  return c;
}

function publishRaw(c: RawClient, exchange: string, routingKey: string, header: Buffer, body: Buffer): void {
  c.send(Buffer.concat([
    methodFrame(1, { id: MethodId.BasicPublish, args: { exchange, routingKey } }),
    frame(Constants.FRAME_HEADER, 1, header),
    frame(Constants.FRAME_BODY, 1, body),
  ]));
}

function frame(type: number, channel: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), Buffer.from([channel >> 8, channel & 0xff]), u32(payload.length), payload, Buffer.from([Constants.FRAME_END])]);
}

/** The next delivery (basic.deliver or basic.get-ok) on channel 1: its content header payload and body. */
async function nextContent(c: RawClient, method: number): Promise<{ header: Buffer; body: Buffer }> {
  await c.waitForMethod(method as typeof MethodId.BasicDeliver, 1, WAIT);
  const header = await c.waitFor((f: Frame) => f.channel === 1 && f.type === Constants.FRAME_HEADER, WAIT, 'content header');
  const body = await c.waitFor((f: Frame) => f.channel === 1 && f.type === Constants.FRAME_BODY, WAIT, 'body');
  return { header: header.payload, body: body.payload };
}

function declareQueue(c: RawClient, queue: string, args: FieldTable): Promise<unknown> {
  c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue, arguments: args } });
  return c.waitForMethod(MethodId.QueueDeclareOk, 1, WAIT);
}

function consume(c: RawClient, queue: string): Promise<unknown> {
  c.sendMethod(1, { id: MethodId.BasicConsume, args: { queue, noAck: true } });
  return c.waitForMethod(MethodId.BasicConsumeOk, 1, WAIT);
}

const headersOf = (header: Buffer): FieldTable => decodeContentProperties(header).headers ?? {};
const str = (v: FieldValue | undefined): string => (Buffer.isBuffer(v) ? v.toString() : String(v));

/** The broker still serves: a fresh amqplib client declares, publishes and gets a message back. */
async function expectServing(b: Broker): Promise<void> {
  const conn = await connect(b);
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  ch.sendToQueue(queue, Buffer.from('still here'));
  let got = await ch.get(queue, { noAck: true });
  for (let i = 0; !got && i < 200; i++) got = await ch.get(queue, { noAck: true });
  expect(got && got.content.toString()).toBe('still here');
  await conn.close();
}

// ------------------------------------------------------------------ tests

describe('deeply nested field tables', () => {
  it('the frame sizes used here: 50,000 levels need a raised frame_max, 5,000 fit the default', () => {
    expect(deepTableSize(5_000)).toBeLessThan(131_072 - 200);
    expect(deepTableSize(50_000)).toBeGreaterThan(131_072);
    expect(deepTableSize(50_000)).toBeLessThan(FRAME_MAX - 200);
  });

  it('amqplib publishes and consumes headers 1,000 deep (its own codec goes no deeper)', async () => {
    const b = await broker();
    const conn = await connect(b);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const delivered = new Promise<FieldValue>((resolve) => {
      void ch.consume(queue, (m) => resolve(m!.properties.headers!['deep'] as FieldValue), { noAck: true });
    });
    ch.sendToQueue(queue, Buffer.from('x'), { headers: { deep: deepTable(1_000) } });
    expect(deepTableMismatch(await delivered, 1_000)).toBeNull();
    await conn.close();
  });

  for (const depth of DEPTHS) {
    const n = depth.toLocaleString('en');

    it(`headers ${n} deep: published, consumed and got back byte for byte`, { timeout: 120_000 }, async () => {
      const b = await broker();
      const c = await rawClient(b);
      await declareQueue(c, 'q', {});
      const header = contentHeader(5, depth);
      publishRaw(c, '', 'q', header, Buffer.from('hello'));
      publishRaw(c, '', 'q', header, Buffer.from('again'));
      c.sendMethod(1, { id: MethodId.BasicGet, args: { queue: 'q', noAck: true } });
      const got = await nextContent(c, MethodId.BasicGetOk);
      expect(got.body.toString()).toBe('hello');
      expect(got.header.equals(header)).toBe(true);
      expect(deepTableMismatch(headersOf(got.header)['deep'], depth)).toBeNull();
      await consume(c, 'q');
      const delivered = await nextContent(c, MethodId.BasicDeliver);
      expect(delivered.body.toString()).toBe('again');
      expect(delivered.header.equals(header)).toBe(true);
      await c.close();
      await expectServing(b);
    });

    it(`headers ${n} deep: the message dead-letters on TTL with its headers intact, and the broker lives on`, { timeout: 120_000 }, async () => {
      const b = await broker();
      const c = await rawClient(b);
      await declareQueue(c, 'dlq', {});
      await declareQueue(c, 'ttl', { 'x-message-ttl': 20, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dlq' });
      await consume(c, 'dlq');
      publishRaw(c, '', 'ttl', contentHeader(4, depth, { expiration: '10' }), Buffer.from('late'));
      const dead = await nextContent(c, MethodId.BasicDeliver);
      expect(dead.body.toString()).toBe('late');
      const headers = headersOf(dead.header);
      expect(deepTableMismatch(headers['deep'], depth)).toBeNull();
      const death = (headers['x-death'] as FieldTable[])[0]!;
      expect([str(death['reason']), str(death['queue']), str(death['original-expiration'])]).toEqual(['expired', 'ttl', '10']);
      expect(str(headers['x-first-death-reason'])).toBe('expired');
      await c.close();
      await expectServing(b);
    });

    it(`headers ${n} deep at the head of a max-length queue: the next publisher is unaffected`, { timeout: 120_000 }, async () => {
      const b = await broker();
      const raw = await rawClient(b);
      await declareQueue(raw, 'ml-dlq', {});
      await declareQueue(raw, 'ml', { 'x-max-length': 1, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ml-dlq' });
      publishRaw(raw, '', 'ml', contentHeader(6, depth), Buffer.from('poison'));
      // A passive declare answered after the publish: the poison message is at the head of the queue.
      raw.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'ml', passive: true } });
      expect((await raw.waitForMethod(MethodId.QueueDeclareOk, 1, WAIT)).messageCount).toBe(1);

      // An innocent publisher on its own connection: confirmed, channel still open.
      const conn = await connect(b);
      const ch = await conn.createConfirmChannel();
      let channelError: Error | null = null;
      ch.on('error', (err: Error) => { channelError = err; });
      ch.sendToQueue('ml', Buffer.from('innocent'));
      await ch.waitForConfirms();
      expect((await ch.checkQueue('ml')).messageCount).toBe(1);
      const kept = await ch.get('ml', { noAck: true });
      expect(kept && kept.content.toString()).toBe('innocent');
      expect(channelError).toBeNull();
      await conn.close();

      // The poison message was dead-lettered whole.
      await consume(raw, 'ml-dlq');
      const dead = await nextContent(raw, MethodId.BasicDeliver);
      expect(dead.body.toString()).toBe('poison');
      const headers = headersOf(dead.header);
      expect(str((headers['x-death'] as FieldTable[])[0]!['reason'])).toBe('maxlen');
      expect(deepTableMismatch(headers['deep'], depth)).toBeNull();
      await raw.close();
    });

    it(`a durable queue declared with arguments ${n} deep survives a restart, with a persistent message as deep`, { timeout: 120_000 }, async () => {
      const dir = dataDir();
      let b = await broker({ dataDir: dir });
      let c = await rawClient(b);
      c.send(frame(Constants.FRAME_METHOD, 1, queueDeclarePayload('deep-q', true, depth, { 'x-queue-mode': 'default' })));
      const ok = await c.waitForMethod(MethodId.QueueDeclareOk, 1, WAIT);
      expect(ok.queue).toBe('deep-q');
      c.sendMethod(1, { id: MethodId.ConfirmSelect, args: {} });
      await c.waitForMethod(MethodId.ConfirmSelectOk, 1, WAIT);
      const header = contentHeader(7, depth, { persistent: true });
      publishRaw(c, '', 'deep-q', header, Buffer.from('durable'));
      await c.waitForMethod(MethodId.BasicAck, 1, WAIT);
      await c.close();
      expect(deepTableMismatch(queueStats(b, 'deep-q').arguments['x-deep'], depth)).toBeNull();
      await b.stop();
      brokers.splice(brokers.indexOf(b), 1);

      b = await broker({ dataDir: dir });
      const q = queueStats(b, 'deep-q');
      expect(q.durable).toBe(true);
      expect(deepTableMismatch(q.arguments['x-deep'], depth)).toBeNull();
      c = await rawClient(b);
      // Declaring it again with the same arguments is fine.
      c.send(frame(Constants.FRAME_METHOD, 1, queueDeclarePayload('deep-q', true, depth, { 'x-queue-mode': 'default' })));
      expect((await c.waitForMethod(MethodId.QueueDeclareOk, 1, WAIT)).messageCount).toBe(1);
      await consume(c, 'deep-q');
      const delivered = await nextContent(c, MethodId.BasicDeliver);
      expect(delivered.body.toString()).toBe('durable');
      expect(delivered.header.equals(header)).toBe(true);
      await c.close();
      await expectServing(b);
    });

    it(`client properties ${n} deep at connection.start-ok: the connection opens and works`, { timeout: 120_000 }, async () => {
      const b = await broker();
      const c = await rawClient(b, { clientProperties: { deep: deepTable(depth), connection_name: `deep-${depth}` } });
      expect(b.connections().find((i) => i.name === `deep-${depth}`)?.user).toBe('guest');
      await declareQueue(c, 'after-start-ok', {});
      await c.close();
      await expectServing(b);
    });

    it(`AMQPLAIN responses ${n} deep: extra entries are ignored, a nested LOGIN is a clean 403`, { timeout: 120_000 }, async () => {
      const b = await broker();
      const entries = (login: Buffer): Buffer => Buffer.concat([shortstr('LOGIN'), login, shortstr('PASSWORD'), Buffer.from('S'), longstr('guest'), shortstr('extra'), Buffer.from('F'), deepTableBytes(depth)]);

      const ok = await rawClient(b, { mechanism: 'AMQPLAIN', response: entries(Buffer.concat([Buffer.from('S'), longstr('guest')])) });
      await declareQueue(ok, 'after-amqplain', {});
      await ok.close();

      const refused = await RawClient.connect(b.port);
      await refused.handshake({ mechanism: 'AMQPLAIN', response: entries(Buffer.concat([Buffer.from('F'), deepTableBytes(depth)])), until: 'start-ok' });
      const close = await refused.expectConnectionClose(WAIT);
      expect([close.replyCode, close.replyText]).toEqual([403, 'ACCESS_REFUSED - Login was refused using authentication mechanism AMQPLAIN. For details see the broker logfile.']);
      await expectServing(b);
    });
  }
});
