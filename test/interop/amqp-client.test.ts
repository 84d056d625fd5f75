/**
 * @cloudamqp/amqp-client (npm, CloudAMQP's TypeScript client) against Warren:
 * the whole scenario (see scenario.ts) in this process, plus an amqplib
 * cross-check of the decoded properties.
 *
 * Not covered, and why:
 * - no byte-exact check: the client does not expose its encoding of the properties;
 * - the client cannot send a decimal (no decimal type; numbers go out as 'I',
 *   'l' or 'f'/'d'), and reads the 'D' amqplib sends as a plain number (3.14);
 * - it surfaces a channel error as an AMQPError whose message ends with the
 *   reply code, "channel 2 closed: NOT_FOUND - … (404)" (no code property): the
 *   code is taken from there.
 */
import { AMQPClient, AMQPError, type AMQPMessage, type AMQPProperties, type Field } from '@cloudamqp/amqp-client';
import { expect } from 'vitest';
import { defineClientScenario, type Emit } from './client-suite.js';
import type { Json, JsonObject, Props, Spec } from './scenario.js';

/** Tagged JSON → the client's field values (Date for timestamps, Uint8Array for byte arrays). */
function toField(v: Json): Field {
  if (Array.isArray(v)) return v.map(toField);
  if (v !== null && typeof v === 'object') {
    if (typeof v.$timestamp === 'number') return new Date(v.$timestamp * 1000);
    if (typeof v.$bytes === 'string') return new Uint8Array(Buffer.from(v.$bytes, 'hex'));
    if (v.$decimal !== undefined) throw new Error('@cloudamqp/amqp-client has no decimal type');
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toField(x)]));
  }
  return v;
}

function fromField(v: unknown): Json {
  if (v instanceof Date) return { $timestamp: v.getTime() / 1000 };
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('hex') };
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(fromField);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromField(x)]));
  return v as Json;
}

function toProperties(p: Props): AMQPProperties {
  return {
    contentType: p.content_type as string,
    contentEncoding: p.content_encoding as string,
    headers: toField(p.headers ?? {}) as Record<string, Field>,
    deliveryMode: p.delivery_mode as number,
    priority: p.priority as number,
    correlationId: p.correlation_id as string,
    replyTo: p.reply_to as string,
    expiration: p.expiration as string,
    messageId: p.message_id as string,
    timestamp: new Date((p.timestamp as number) * 1000),
    type: p.type as string,
    userId: p.user_id as string,
    appId: p.app_id as string,
  };
}

function fromProperties(p: AMQPProperties): Props {
  const out: Props = {
    content_type: p.contentType, content_encoding: p.contentEncoding, headers: p.headers === undefined ? undefined : fromField(p.headers),
    delivery_mode: p.deliveryMode, priority: p.priority, correlation_id: p.correlationId, reply_to: p.replyTo,
    expiration: p.expiration, message_id: p.messageId, timestamp: p.timestamp ? p.timestamp.getTime() / 1000 : undefined,
    type: p.type, user_id: p.userId, app_id: p.appId,
  } as Props;
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined && v !== null));
}

const hex = (body: Uint8Array | null): string => Buffer.from(body ?? new Uint8Array()).toString('hex');

async function scenario(port: number, spec: Spec, emit: Emit): Promise<void> {
  const p = spec.prefix;
  const conn = await new AMQPClient(`amqp://guest:guest@127.0.0.1:${port}`).connect();
  emit('connect');
  try {
    const ch = await conn.channel();
    await ch.exchangeDeclare(`${p}.direct`, 'direct', { durable: false });
    for (const suffix of ['props', 'props-js', 'props-raw']) {
      const ok = await ch.queueDeclare(`${p}.${suffix}`, { durable: false });
      await ch.queueBind(ok.name, `${p}.direct`, 'props');
      emit('declare', { queue: ok.name, message_count: ok.messageCount, consumer_count: ok.consumerCount });
    }

    await ch.basicPublish(`${p}.direct`, 'props', Buffer.from(spec.body_hex, 'hex'), toProperties(spec.props));
    let onMessage!: (m: AMQPMessage) => void;
    const delivered = new Promise<AMQPMessage>((resolve) => { onMessage = resolve; });
    const consumer = await ch.basicConsume(`${p}.props`, { noAck: false }, (m) => onMessage(m));
    const m = await delivered;
    emit('consume', { exchange: m.exchange, routing_key: m.routingKey, redelivered: m.redelivered, body_hex: hex(m.body), props: fromProperties(m.properties) });
    await m.ack();
    await consumer.cancel();

    const g = await ch.basicGet(`${p}.from-js`, { noAck: false });
    if (!g) throw new Error('basic.get found the from-js queue empty');
    emit('get', { message_count: g.messageCount, redelivered: g.redelivered, routing_key: g.routingKey, body_hex: hex(g.body), props: fromProperties(g.properties) });
    await g.ack();
    emit('get_empty', { empty: (await ch.basicGet(`${p}.from-js`, { noAck: false })) === null });

    // publisher confirms: after confirmSelect, basicPublish resolves once the broker acks
    const cch = await conn.channel();
    await cch.confirmSelect();
    await cch.queueDeclare(`${p}.confirms`, { durable: true });
    const tags = await Promise.all([0, 1, 2].map((i) => cch.basicPublish('', `${p}.confirms`, `confirm-${i}`, { deliveryMode: 2 }, true)));
    emit('confirms', { published: 3, confirmed: tags.length, tags });

    await ch.exchangeDeclare(`${p}.topic`, 'topic', { durable: false });
    for (const [suffix, pattern] of spec.topic.bindings) {
      await ch.queueDeclare(`${p}.${suffix}`, { exclusive: true, durable: false });
      await ch.queueBind(`${p}.${suffix}`, `${p}.topic`, pattern);
    }
    for (const rk of spec.topic.publish) await ch.basicPublish(`${p}.topic`, rk, rk);
    for (const [suffix] of spec.topic.bindings) {
      const keys: string[] = [];
      for (let t = await ch.basicGet(`${p}.${suffix}`); t; t = await ch.basicGet(`${p}.${suffix}`)) keys.push(t.routingKey);
      emit('topic', { queue: suffix, routing_keys: keys });
    }

    const ech = await conn.channel();
    try {
      await ech.queueDeclare(`${p}.missing`, { passive: true });
      emit('error', { code: null, text: 'passive declare of a missing queue succeeded' });
    } catch (err) {
      if (!(err instanceof AMQPError)) throw err;
      const match = /^channel \d+ closed: (.*) \((\d+)\)$/.exec(err.message);
      emit('error', { code: match ? Number(match[2]) : null, text: match?.[1] ?? err.message, message: err.message, channel_open: !ech.closed });
    }
    await ch.queueDeclare(`${p}.props`, { passive: true }); // the first channel still works
    emit('after_error', { connection_open: !conn.closed, channel_ok: !ch.closed });
  } finally {
    await conn.close();
  }
  emit('done');
}

const extraHeaders: JsonObject = {
  'x-float': 1.5, // goes out as a float32 'f' (exact for 1.5)
  'x-timestamp': { $timestamp: 1_700_000_000 },
  'x-bytes': { $bytes: '00ff10' },
  'x-void': null,
};

defineClientScenario({
  title: 'interop: @cloudamqp/amqp-client',
  prefix: 'cloudamqp',
  inProcess: scenario,
  extraHeaders,
  expectFromJs: (sent) => ({ ...sent, headers: { ...(sent.headers as JsonObject), 'x-decimal': 3.14 } }),
  checkError: (s) => {
    expect(s.message).toMatch(/^channel \d+ closed: NOT_FOUND - .* \(404\)$/);
    expect(s.channel_open).toBe(false);
  },
});
