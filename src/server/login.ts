/**
 * Who a connection.start-ok logs in as: PLAIN / AMQPLAIN against the users'
 * password hashes, or — on TLS connections with a verified client
 * certificate — EXTERNAL as the certificate's subject CN (which must name a
 * user; its password is not used), as RabbitMQ's rabbitmq_auth_mechanism_ssl.
 */
import type { AccessControl, UserRecord } from '../auth/access-control.js';
import { MethodId, ReplyCode, methodError } from '../protocol/index.js';
import { MECHANISMS, parseSaslResponse } from './sasl.js';

/** The mechanisms connection.start offers: EXTERNAL only where a verified certificate can log in. */
export function offeredMechanisms(certificateUser: string | null): string {
  return certificateUser === null ? MECHANISMS.join(' ') : `${MECHANISMS.join(' ')} EXTERNAL`;
}

export interface Login {
  /** The authenticated user, or null when refused. */
  user: UserRecord | null;
  /** The name the client gave (for the log), when it could be read. */
  username: string | undefined;
}

/** Authenticates a start-ok. Throws 503 for a mechanism that was not offered. */
export function authenticate(access: AccessControl, mechanism: string, response: Buffer, certificateUser: string | null): Login {
  if (mechanism === 'EXTERNAL' && certificateUser !== null) return { user: access.user(certificateUser) ?? null, username: certificateUser };
  if (!(MECHANISMS as readonly string[]).includes(mechanism)) {
    throw methodError(ReplyCode.CommandInvalid, `unknown authentication mechanism '${mechanism}'`, MethodId.ConnectionStartOk);
  }
  const creds = parseSaslResponse(mechanism, response);
  return { user: creds ? access.authenticate(creds.username, creds.password) : null, username: creds?.username };
}

/** Client-chosen strings (a user name can be a megabyte) are cut before they reach the log. */
export function truncateForLog(text: string): string {
  return text.length <= 256 ? text : `${text.slice(0, 256)}… (${text.length} characters)`;
}

/** IPv4 127/8, IPv6 ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.');
}
