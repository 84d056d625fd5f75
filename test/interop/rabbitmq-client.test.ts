/**
 * rabbitmq-client (npm) against Warren: the whole scenario (see scenario.ts) in
 * this process, through its Channel API (acquire(), exchangeDeclare, queueDeclare,
 * basicPublish/Consume/Get, confirmSelect) and, for confirms, its Publisher, plus
 * an amqplib cross-check of the decoded properties.
 *
 * Not covered, and why:
 * - no byte-exact check: the client does not expose its encoding of the properties;
 * - it can send neither a decimal, a timestamp nor a byte array in a table (any
 *   object, Buffer included, is encoded as a table) — its message carries a double
 *   and a void instead — and it reads amqplib's timestamp 'T' as a plain number of
 *   seconds and the decimal as { scale, value };
 * - it surfaces the reply code by name: AMQPChannelError code 'NOT_FOUND' (the
 *   reply text follows the method name in the message, "QueueDeclare: NOT_FOUND - …").
 *
 * It encodes small integers as 'b' and 's' (42, -7 → 'b'): Warren must read those
 * when it decodes the headers (the user_id check) — see also field-types.test.ts.
 */
import { AMQPChannelError, Connection, type AsyncMessage, type Envelope, type SyncMessage } from 'rabbitmq-client';
import { expect } from 'vitest';
import { defineClientScenario, type Emit } from './client-suite.js';
import type { Json, JsonObject, Props, Spec } from './scenario.js';

function fromField(v: unknown): Json {
  if (Buffer.isBuffer(v)) return { $bytes: v.toString('hex') };
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(fromField);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 2 && typeof o.scale === 'number' && typeof o.value === 'number') {
      const s = String(o.value).padStart(o.scale + 1, '0');
      return { $decimal: o.scale ? `${s.slice(0, -o.scale)}.${s.slice(-o.scale)}` : s };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromField(x)]));
  }
  return v as Json;
}

function toEnvelope(p: Props): Envelope {
  return {
    contentType: p.content_type as string,
    contentEncoding: p.content_encoding as string,
    headers: p.headers as JsonObject,
    durable: p.delivery_mode === 2, // rabbitmq-client's name for delivery-mode 2
    priority: p.priority as number,
    correlationId: p.correlation_id as string,
    replyTo: p.reply_to as string,
    expiration: p.expiration as string,
    messageId: p.message_id as string,
    timestamp: p.timestamp as number,
    type: p.type as string,
    userId: p.user_id as string,
    appId: p.app_id as string,
  };
}

function fromMessage(m: AsyncMessage | SyncMessage): Props {
  const out: Record<string, unknown> = {
    content_type: m.contentType, content_encoding: m.contentEncoding, headers: m.headers === undefined ? undefined : fromField(m.headers),
    delivery_mode: (m as { deliveryMode?: number }).deliveryMode, priority: m.priority, correlation_id: m.correlationId,
    reply_to: m.replyTo, expiration: m.expiration, message_id: m.messageId, timestamp: m.timestamp, type: m.type,
    user_id: m.userId, app_id: m.appId, cluster_id: m.clusterId,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined && v !== null)) as Props;
}

const hex = (body: unknown): string => (Buffer.isBuffer(body) ? body.toString('hex') : `not a Buffer: ${JSON.stringify(body)}`);

async function scenario(port: number, spec: Spec, emit: Emit): Promise<void> {
  const p = spec.prefix;
  const rabbit = new Connection({ url: `amqp://guest:guest@127.0.0.1:${port}`, retryLow: 50, retryHigh: 200, connectionTimeout: 5000 });
  rabbit.on('error', () => { /* surfaced by the awaited calls */ });
  try {
    await rabbit.onConnect(5000);
    emit('connect');
    const ch = await rabbit.acquire();
    await ch.exchangeDeclare({ exchange: `${p}.direct`, type: 'direct', durable: false });
    for (const suffix of ['props', 'props-js', 'props-raw']) {
      const ok = await ch.queueDeclare({ queue: `${p}.${suffix}`, durable: false });
      await ch.queueBind({ queue: ok.queue, exchange: `${p}.direct`, routingKey: 'props' });
      emit('declare', { queue: ok.queue, message_count: ok.messageCount, consumer_count: ok.consumerCount });
    }

    await ch.basicPublish({ exchange: `${p}.direct`, routingKey: 'props', ...toEnvelope(spec.props) }, Buffer.from(spec.body_hex, 'hex'));
    let onMessage!: (m: AsyncMessage) => void;
    const delivered = new Promise<AsyncMessage>((resolve) => { onMessage = resolve; });
    const { consumerTag } = await ch.basicConsume({ queue: `${p}.props`, noAck: false }, (m) => onMessage(m));
    const m = await delivered;
    emit('consume', { exchange: m.exchange, routing_key: m.routingKey, redelivered: m.redelivered, body_hex: hex(m.body), props: fromMessage(m) });
    ch.basicAck({ deliveryTag: m.deliveryTag });
    await ch.basicCancel({ consumerTag });

    const g = await ch.basicGet({ queue: `${p}.from-js`, noAck: false });
    if (!g) throw new Error('basic.get found the from-js queue empty');
    emit('get', { message_count: g.messageCount, redelivered: g.redelivered, routing_key: g.routingKey, body_hex: hex(g.body), props: fromMessage(g) });
    ch.basicAck({ deliveryTag: g.deliveryTag });
    emit('get_empty', { empty: (await ch.basicGet({ queue: `${p}.from-js`, noAck: false })) === undefined });

    // publisher confirms, through the client's Publisher ({ confirm: true }: send() resolves on basic.ack)
    const pub = rabbit.createPublisher({ confirm: true, maxAttempts: 1, queues: [{ queue: `${p}.confirms`, durable: true }] });
    for (let i = 0; i < 3; i++) await pub.send({ routingKey: `${p}.confirms`, durable: true, mandatory: true }, Buffer.from(`confirm-${i}`));
    emit('confirms', { published: 3, confirmed: 3 });
    await pub.close();

    await ch.exchangeDeclare({ exchange: `${p}.topic`, type: 'topic', durable: false });
    for (const [suffix, pattern] of spec.topic.bindings) {
      await ch.queueDeclare({ queue: `${p}.${suffix}`, exclusive: true });
      await ch.queueBind({ queue: `${p}.${suffix}`, exchange: `${p}.topic`, routingKey: pattern });
    }
    for (const rk of spec.topic.publish) await ch.basicPublish({ exchange: `${p}.topic`, routingKey: rk }, rk);
    for (const [suffix] of spec.topic.bindings) {
      const keys: string[] = [];
      for (let t = await ch.basicGet({ queue: `${p}.${suffix}`, noAck: true }); t; t = await ch.basicGet({ queue: `${p}.${suffix}`, noAck: true })) keys.push(t.routingKey);
      emit('topic', { queue: suffix, routing_keys: keys });
    }

    const ech = await rabbit.acquire();
    try {
      await ech.queueDeclare({ queue: `${p}.missing`, passive: true });
      emit('error', { code: null, text: 'passive declare of a missing queue succeeded' });
    } catch (err) {
      if (!(err instanceof AMQPChannelError)) throw err;
      // the reply code comes by name; 404 is what that name stands for
      emit('error', { code: err.code === 'NOT_FOUND' ? 404 : err.code, code_name: err.code, text: err.message.replace(/^QueueDeclare: /, ''), message: err.message, channel_open: ech.active });
    }
    await ch.queueDeclare({ queue: `${p}.props`, passive: true }); // the first channel still works
    emit('after_error', { connection_open: rabbit.ready, channel_ok: ch.active });
    await ch.close();
  } finally {
    await rabbit.close();
  }
  emit('done');
}

defineClientScenario({
  title: 'interop: rabbitmq-client',
  prefix: 'rmqclient',
  inProcess: scenario,
  extraHeaders: { 'x-float': 1.5, 'x-void': null },
  expectFromJs: (sent) => ({ ...sent, headers: { ...(sent.headers as JsonObject), 'x-timestamp': 1_700_000_000 } }),
  checkError: (s) => expect(s).toMatchObject({ code_name: 'NOT_FOUND', channel_open: false }),
});
