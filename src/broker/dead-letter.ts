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

/** A count as stored in an x-death entry: a number, a bigint, or (for an entry we built) a Typed long. */
function countOf(v: FieldValue): number {
  const raw = v instanceof Typed ? v.value : v;
  return typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : 0;
}

/** A table with its keys in sorted order (RabbitMQ's rabbit_misc:sort_field_table). */
function sortedTable(t: FieldTable): FieldTable {
  const out: FieldTable = {};
  for (const k of Object.keys(t).sort()) out[k] = t[k]!;
  return out;
}

/**
 * The message as it leaves `queue` for the dead-letter exchange `dlx` with
 * routing key `routingKey`: same body, headers updated with the death, as
 * RabbitMQ 3.x's rabbit_dead_letter:make_msg / update_x_death_header do:
 * - no x-death yet: a first entry {count 1, reason, queue, time, exchange,
 *   routing-keys[, original-expiration]} and the x-first-death-* headers;
 * - an entry for the same queue and reason: its count goes up by one and it
 *   moves first (the rest of it, `time` included, stays as it was);
 * - otherwise a new entry (count 1) goes first.
 * With a dead-letter routing key (`stripCc`) the CC header goes, and the
 * per-message expiration always goes (kept in the entry as original-expiration).
 */
export function deadLetteredMessage(message: Message, queue: string, reason: DeathReason, dlx: string, routingKey: string, stripCc = false, now = Date.now()): Message {
  const props = { ...message.properties };
  const headers: FieldTable = { ...(props.headers ?? {}) };
  const info: FieldTable = {
    reason,
    queue,
    time: new Date(now),
    exchange: message.exchange,
    'routing-keys': originalRoutingKeys(message),
  };
  if (props.expiration !== undefined) info['original-expiration'] = props.expiration;
  const existing = headers['x-death'];
  if (!Array.isArray(existing)) {
    // The first death (or an x-death a client mangled into another type, which RabbitMQ resets).
    headers['x-death'] = [{ count: new Typed('l', 1), ...info }];
    if (existing === undefined) {
      headers['x-first-death-reason'] = reason;
      headers['x-first-death-queue'] = queue;
      headers['x-first-death-exchange'] = message.exchange;
    }
  } else {
    // Counts decode as plain numbers: keep them long (RabbitMQ writes them so) when re-encoding.
    const previous = existing.filter(isTable).map((d) => (typeof d['count'] === 'number' ? { ...d, count: new Typed('l', d['count']) } : d));
    const same = previous.findIndex((d) => asString(d['queue'] ?? '') === queue && asString(d['reason'] ?? '') === reason);
    let entry: FieldTable;
    if (same >= 0) {
      // Only the count changes (increment_xdeath_event_count): the first time of this death stays.
      const old = previous.splice(same, 1)[0]!;
      entry = sortedTable({ ...old, count: new Typed('l', countOf(old['count'] ?? 0) + 1) });
    } else {
      entry = sortedTable({ count: new Typed('l', 1), ...info });
    }
    headers['x-death'] = [entry, ...previous];
  }
  if (stripCc) delete headers['CC'];
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
