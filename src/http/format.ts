import { Decimal, REJECT, mapFieldTree, type FieldTable } from '../protocol/index.js';
import { MESSAGE_STAT_KEYS, type MessageStats } from '../observe/stats.js';

/**
 * Conversions between the model's values and RabbitMQ's management JSON
 * (rabbit_mgmt_format): field tables as plain JSON, message_stats with
 * `*_details.rate`, timestamps as RabbitMQ writes them.
 */

/** Tables are plain objects; Buffers, Dates and Decimals are values of their own. */
const isFieldTable = (v: object): boolean => !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof Decimal);

function leafToJson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (v instanceof Decimal) return v.value / 10 ** v.scale;
  return v;
}

export function fieldTableToJson(t: FieldTable): Record<string, unknown> {
  // Most queues and exchanges have no arguments: listing thousands of them costs one empty object each.
  if (Object.keys(t).length === 0) return {};
  return mapFieldTree(t, isFieldTable, leafToJson) as Record<string, unknown>;
}

function leafFromJson(v: unknown): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  return REJECT;
}

/** JSON from a request (arguments, headers) as an AMQP field table; null when it cannot be one. */
export function jsonToFieldTable(v: unknown): FieldTable | null {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) return null;
  return (mapFieldTree(v, () => true, leafFromJson) as FieldTable | undefined) ?? null;
}

/** RabbitMQ's message_stats object: each counter, `deliver_get`, and `<key>_details: {rate}` (per second, 5 s samples). */
export function messageStatsJson(s: MessageStats, keys: readonly (typeof MESSAGE_STAT_KEYS)[number][] = MESSAGE_STAT_KEYS): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    out[k] = s[k];
    out[`${k}_details`] = { rate: round(s.rate(k)) };
  }
  if (keys.includes('deliver')) {
    out.deliver_get = s.deliver + s.deliver_no_ack + s.get + s.get_no_ack;
    out.deliver_get_details = { rate: round(s.rate('deliver') + s.rate('deliver_no_ack') + s.rate('get') + s.rate('get_no_ack')) };
  }
  return out;
}

/** Channel-side counters (RabbitMQ's channel / vhost / overview message_stats). */
export const CHANNEL_STAT_KEYS = ['publish', 'confirm', 'deliver', 'deliver_no_ack', 'get', 'get_no_ack', 'get_empty', 'redeliver', 'ack', 'return_unroutable', 'drop_unroutable'] as const;
/** Queue-side counters. */
export const QUEUE_STAT_KEYS = ['publish', 'deliver', 'deliver_no_ack', 'get', 'get_no_ack', 'redeliver', 'ack'] as const;
/** Exchange-side counters. */
export const EXCHANGE_STAT_KEYS = ['publish_in', 'publish_out'] as const;

/** Rates with one decimal, as the management UI shows them. */
export const round = (x: number): number => Math.round(x * 10) / 10;

/** RabbitMQ's idle_since format: "2024-01-31 12:34:56" (the last second's text is reused: lists of queues share few). */
let idleCacheSecond = -1;
let idleCacheText = '';
export function idleSince(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== idleCacheSecond) {
    idleCacheSecond = second;
    idleCacheText = new Date(second * 1000).toISOString().slice(0, 19).replace('T', ' ');
  }
  return idleCacheText;
}
