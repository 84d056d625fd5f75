/**
 * Dead-lettering as RabbitMQ does it: the message is republished to the
 * queue's dead-letter exchange with an `x-death` history (newest first; an
 * entry per queue and reason, its `count` incremented on repeated cycles),
 * `x-first-death-*` headers, and its per-message TTL moved into the entry as
 * `original-expiration`.
 */
import { Typed, type FieldTable, type FieldValue } from '../protocol/index.js';
import { Message } from './message.js';

export type DeathReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

export interface Death {
  queue: string;
  reason: string;
}

function isTable(v: FieldValue): v is FieldTable {
  return !!v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof Typed) && Object.getPrototypeOf(v) === Object.prototype;
}

const asString = (v: FieldValue): string => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** The routing keys a message was published with: its key plus any CC keys (BCC is gone by now). */
export function originalRoutingKeys(message: Message): string[] {
  const cc = message.properties.headers?.['CC'];
  const keys = [message.routingKey];
  if (Array.isArray(cc)) for (const k of cc) keys.push(asString(k));
  return keys;
}

/** The deaths recorded in a message's x-death header, newest first. */
export function deathsOf(headers: FieldTable | undefined): Death[] {
  const xdeath = headers?.['x-death'];
  if (!Array.isArray(xdeath)) return [];
  return xdeath.filter(isTable).map((d) => ({ queue: asString(d['queue'] ?? ''), reason: asString(d['reason'] ?? '') }));
}

/**
 * The message as it leaves `queue` for the dead-letter exchange `dlx` with
 * routing key `routingKey`: same body, headers updated with the death.
 */
export function deadLetteredMessage(message: Message, queue: string, reason: DeathReason, dlx: string, routingKey: string, now = Date.now()): Message {
  const props = { ...message.properties };
  const headers: FieldTable = { ...(props.headers ?? {}) };
  const previous = Array.isArray(headers['x-death']) ? (headers['x-death'] as FieldValue[]).filter(isTable) : [];
  const same = previous.findIndex((d) => asString(d['queue'] ?? '') === queue && asString(d['reason'] ?? '') === reason);
  let entry: FieldTable;
  if (same >= 0) {
    const old = previous[same]!;
    previous.splice(same, 1);
    const count = old['count'];
    entry = { ...old, count: new Typed('l', (typeof count === 'number' || typeof count === 'bigint' ? Number(count) : 0) + 1), time: new Date(now) };
  } else {
    entry = {
      count: new Typed('l', 1),
      reason,
      queue,
      time: new Date(now),
      exchange: message.exchange,
      'routing-keys': originalRoutingKeys(message),
    };
    if (props.expiration !== undefined) entry['original-expiration'] = props.expiration;
  }
  // Normalise the counts of older entries to long, as RabbitMQ writes them.
  const history = previous.map((d) => (typeof d['count'] === 'number' ? { ...d, count: new Typed('l', d['count']) } : d));
  headers['x-death'] = [entry, ...history];
  if (headers['x-first-death-reason'] === undefined) {
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-exchange'] = message.exchange;
  }
  props.headers = headers;
  delete props.expiration; // the TTL must not kill it again in the next queue
  return message.withProperties(props, dlx, routingKey);
}

/**
 * RabbitMQ's cycle rule: dead-lettering into `queue` again is a cycle when the
 * message already died there, and it is dropped when no death since then was
 * a rejection (a fully automatic cycle, e.g. expiry → DLX → same queue).
 */
export function isDeadLetterCycle(queue: string, deaths: readonly Death[]): boolean {
  for (const d of deaths) {
    if (d.reason === 'rejected') return false;
    if (d.queue === queue) return true;
  }
  return false;
}
