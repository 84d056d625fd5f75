import { Message } from '../broker/message.js';
import type { Owner } from '../broker/queue.js';
import { Session, type SessionSink } from '../broker/session.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import { encodeContentHeader, type BasicProperties } from '../protocol/index.js';
import { badRequest } from './errors.js';
import { fieldTableToJson, jsonToFieldTable } from './format.js';
import type { Item } from './list.js';

/**
 * Messages through the API: building a message from a publish request, and
 * basic.get on behalf of the API through a short-lived session of the model
 * (so gets, acks and requeues follow the same rules and counters as a
 * channel's).
 */

/** The API is not a connection: it owns no exclusive queue. */
export const API_OWNER: Owner = { id: 0 };

/** A session that sends nothing anywhere: the API reads what get() returns. */
const SILENT_SINK: SessionSink = {
  writable: false,
  deliver: () => undefined,
  returnMessage: () => undefined,
  confirm: () => undefined,
  consumerCancelled: () => undefined,
  throttle: () => undefined,
};

const PROPERTY_NAMES: Record<string, keyof BasicProperties> = {
  content_type: 'contentType',
  content_encoding: 'contentEncoding',
  headers: 'headers',
  delivery_mode: 'deliveryMode',
  priority: 'priority',
  correlation_id: 'correlationId',
  reply_to: 'replyTo',
  expiration: 'expiration',
  message_id: 'messageId',
  timestamp: 'timestamp',
  type: 'type',
  user_id: 'userId',
  app_id: 'appId',
  cluster_id: 'clusterId',
};

const NUMERIC = new Set<keyof BasicProperties>(['deliveryMode', 'priority', 'timestamp']);

/** RabbitMQ's JSON message properties as AMQP basic properties (400 for a wrong type). */
export function propertiesFromJson(json: unknown): BasicProperties {
  if (json === undefined || json === null) return {};
  if (typeof json !== 'object' || Array.isArray(json)) throw badRequest('properties must be an object');
  const props: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    const name = PROPERTY_NAMES[key];
    if (!name) throw badRequest(`unknown message property '${key}'`);
    if (name === 'headers') {
      const table = jsonToFieldTable(value);
      if (!table) throw badRequest('headers must be an object');
      props.headers = table;
    } else if (NUMERIC.has(name)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw badRequest(`${key} must be a non-negative integer`);
      props[name] = value;
    } else {
      if (typeof value !== 'string') throw badRequest(`${key} must be a string`);
      props[name] = value;
    }
  }
  return props as BasicProperties;
}

export function propertiesToJson(p: BasicProperties): Item {
  const out: Item = {};
  for (const [json, name] of Object.entries(PROPERTY_NAMES)) {
    const v = p[name];
    if (v === undefined) continue;
    out[json] = name === 'headers' ? fieldTableToJson(v as NonNullable<BasicProperties['headers']>) : v;
  }
  return out;
}

export function buildMessage(exchange: string, routingKey: string, properties: BasicProperties, body: Buffer): Message {
  return new Message(exchange, routingKey, encodeContentHeader(body.length, properties), body, body.length);
}

export type AckMode = 'ack_requeue_true' | 'ack_requeue_false' | 'reject_requeue_true' | 'reject_requeue_false';

export interface GetOptions {
  count: number;
  ackmode: AckMode;
  encoding: 'auto' | 'base64';
  truncate: number | null;
}

function bodyOf(m: Message): Buffer {
  return Array.isArray(m.body) ? Buffer.concat(m.body) : m.body;
}

/**
 * Takes up to `count` messages from a queue and then settles them all as
 * `ackmode` says (requeued ones go back in order, marked redelivered), as
 * RabbitMQ's management "get messages" does.
 */
export function getMessages(vhost: VirtualHost, queue: string, username: string, o: GetOptions): Item[] {
  const session = new Session(vhost, API_OWNER, SILENT_SINK, username);
  const out: Item[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const got = session.get(queue, false);
      if (!got) break;
      const m = got.message;
      const body = bodyOf(m);
      const shown = o.truncate !== null && body.length > o.truncate ? body.subarray(0, o.truncate) : body;
      const text = o.encoding === 'auto' ? shown.toString('utf8') : null;
      const isText = text !== null && Buffer.from(text, 'utf8').equals(shown);
      out.push({
        payload_bytes: m.bodySize,
        redelivered: got.redelivered,
        exchange: m.exchange,
        routing_key: m.routingKey,
        message_count: got.messageCount,
        properties: propertiesToJson(m.properties),
        payload: isText ? text : shown.toString('base64'),
        payload_encoding: isText ? 'string' : 'base64',
      });
    }
    if (o.ackmode === 'ack_requeue_false') session.ack(0, true);
    else session.reject(0, true, o.ackmode !== 'reject_requeue_false');
  } finally {
    session.close();
  }
  return out;
}
