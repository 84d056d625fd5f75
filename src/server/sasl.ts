/**
 * SASL responses from connection.start-ok: PLAIN (`authzid \0 user \0 password`)
 * and RabbitMQ's AMQPLAIN (a field table without its length prefix, with
 * LOGIN and PASSWORD entries).
 */
import { Cursor, decodeFieldValue } from '../protocol/index.js';

export const MECHANISMS = ['PLAIN', 'AMQPLAIN'] as const;

export interface Credentials {
  username: string;
  password: string;
}

/** Parses a SASL response; null when it is malformed or not acceptable. Throws nothing. */
export function parseSaslResponse(mechanism: string, response: Buffer): Credentials | null {
  if (mechanism === 'PLAIN') return parsePlain(response);
  if (mechanism === 'AMQPLAIN') return parseAmqplain(response);
  return null;
}

/**
 * As RabbitMQ's PLAIN mechanism: the authorization identity must be empty
 * (the response starts with NUL; a client may not log in as one user and act
 * as another), and the password runs to the end without a further NUL.
 * RabbitMQ refuses anything else as an invalid response.
 */
function parsePlain(response: Buffer): Credentials | null {
  if (response.length === 0 || response[0] !== 0) return null;
  const second = response.indexOf(0, 1);
  if (second < 0 || response.indexOf(0, second + 1) >= 0) return null;
  return { username: response.toString('utf8', 1, second), password: response.toString('utf8', second + 1) };
}

/**
 * The entries are read into locals, never into an object keyed by the
 * client's names (a "__proto__" entry would replace its prototype, and the
 * credentials would then be read through it). The first LOGIN and the first
 * PASSWORD count, as in RabbitMQ (lists:keysearch).
 */
function parseAmqplain(response: Buffer): Credentials | null {
  try {
    const c = new Cursor(response);
    let login: string | undefined;
    let password: string | undefined;
    let loginSeen = false;
    let passwordSeen = false;
    while (c.pos < c.end) {
      const key = c.shortstr();
      const value = decodeFieldValue(c);
      if (key === 'LOGIN' && !loginSeen) {
        loginSeen = true;
        if (typeof value === 'string') login = value; // only a longstr decodes to a string
      } else if (key === 'PASSWORD' && !passwordSeen) {
        passwordSeen = true;
        if (typeof value === 'string') password = value;
      }
    }
    return login !== undefined && password !== undefined ? { username: login, password } : null;
  } catch {
    return null;
  }
}
