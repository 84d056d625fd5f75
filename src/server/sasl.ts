/**
 * SASL responses from connection.start-ok: PLAIN (`authzid \0 user \0 password`)
 * and RabbitMQ's AMQPLAIN (a field table without its length prefix, with
 * LOGIN and PASSWORD entries).
 */
import { Cursor, decodeFieldValue, type FieldValue } from '../protocol/index.js';

export const MECHANISMS = ['PLAIN', 'AMQPLAIN'] as const;

export interface Credentials {
  username: string;
  password: string;
}

/** Parses a SASL response; null when it is malformed. Throws nothing. */
export function parseSaslResponse(mechanism: string, response: Buffer): Credentials | null {
  if (mechanism === 'PLAIN') {
    const first = response.indexOf(0);
    const second = first < 0 ? -1 : response.indexOf(0, first + 1);
    if (second < 0) return null;
    return { username: response.toString('utf8', first + 1, second), password: response.toString('utf8', second + 1) };
  }
  if (mechanism === 'AMQPLAIN') {
    try {
      const c = new Cursor(response);
      const entries: Record<string, FieldValue> = {};
      while (c.pos < c.end) {
        const key = c.shortstr();
        entries[key] = decodeFieldValue(c);
      }
      const { LOGIN: login, PASSWORD: password } = entries;
      if (typeof login !== 'string' || typeof password !== 'string') return null;
      return { username: login, password };
    } catch {
      return null;
    }
  }
  return null;
}
