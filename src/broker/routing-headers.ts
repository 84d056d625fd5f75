/**
 * The CC and BCC headers (RabbitMQ's sender-selected distribution): extra
 * routing keys carried in the message's headers table. BCC routes but is
 * stripped before any consumer or basic.return sees the message.
 */
import { AmqpError, PropertyFlag, ReplyCode, encodedHeaderKey, fieldTypeName, mayHaveHeader } from '../protocol/index.js';
import type { Message } from './message.js';

const CC_KEY = encodedHeaderKey('CC');
const BCC_KEY = encodedHeaderKey('BCC');

/**
 * Cheap pre-check on the raw header bytes: could the headers table hold "CC"
 * or "BCC"? Only then are properties decoded. Without a headers property (the
 * common case) this is one bit test.
 */
export function mayCarryCcOrBcc(message: Message): boolean {
  if (!message.hasProperty(PropertyFlag.Headers)) return false;
  return mayHaveHeader(message.header, CC_KEY) || mayHaveHeader(message.header, BCC_KEY);
}

/** CC/BCC values: the longstr elements of an array (other elements are skipped, as RabbitMQ's header_routes does). */
function routingKeyList(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.filter((k): k is string => typeof k === 'string');
}

/**
 * basic.publish check (rabbit_basic:header_routes): a CC or BCC header that is
 * not an array is a 406 channel error, "invalid message:
 * {unacceptable_type_in_header,"CC",longstr}".
 */
export function assertRoutingHeaders(message: Message): void {
  if (!mayCarryCcOrBcc(message)) return;
  const headers = message.properties.headers;
  for (const key of ['CC', 'BCC']) {
    const v = headers?.[key];
    if (v !== undefined && !Array.isArray(v)) {
      throw new AmqpError(ReplyCode.PreconditionFailed, `invalid message: {unacceptable_type_in_header,"${key}",${fieldTypeName(headers!, key)}}`);
    }
  }
}

/** The CC then BCC routing keys of a message, or null when it has none. */
export function extraRoutingKeys(message: Message): string[] | null {
  if (!mayCarryCcOrBcc(message)) return null;
  const headers = message.properties.headers;
  const cc = routingKeyList(headers?.['CC']);
  const bcc = routingKeyList(headers?.['BCC']);
  return cc.length > 0 || bcc.length > 0 ? [...cc, ...bcc] : null;
}

/** The message without its BCC header (BCC routes, but no consumer nor basic.return ever sees it). */
export function withoutBcc(message: Message): Message {
  if (!mayCarryCcOrBcc(message)) return message;
  const headers = message.properties.headers;
  if (!headers || headers['BCC'] === undefined) return message;
  const { BCC: bcc, ...kept } = headers;
  const m = message.withProperties({ ...message.properties, headers: kept });
  m.bccKeys = routingKeyList(bcc);
  return m;
}
