import { ERROR_CLASS, ERROR_NAMES, ReplyCode, classIdOf, methodIndexOf } from './generated/constants.js';

/**
 * Errors raised by the codec. Each carries the AMQP reply code the server must
 * answer with, so the session layer can turn any codec failure into the right
 * `connection.close` without knowing where it came from.
 */
/** RabbitMQ's reply-text prefix for each code (the spec's names; 200 is `OK`), e.g. `NOT_FOUND - no queue 'q' in vhost '/'`. */
const REPLY_NAMES: Readonly<Record<number, string>> = { 200: 'OK', ...ERROR_NAMES };

/** reply-text is a shortstr: past 255 bytes keep 252 and add "..." (as RabbitMQ). */
export function truncateReplyText(text: string): string {
  if (Buffer.byteLength(text) <= 255) return text;
  let cut = Buffer.from(text).subarray(0, 252).toString('utf8');
  // A multi-byte character cut in half decodes to U+FFFD: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  while (Buffer.byteLength(cut) > 252) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/** The reply-text for `code` with RabbitMQ's prefix: replyText(320, 'broker shutdown') is "CONNECTION_FORCED - broker shutdown" (truncated as a shortstr). */
export function replyText(code: number, detail: string): string {
  return truncateReplyText(`${REPLY_NAMES[code] ?? 'ERROR'} - ${detail}`);
}

/** Codes that close the whole connection rather than one channel (AMQP "hard errors"). */
export function isConnectionError(code: number): boolean {
  // The spec's hard errors; any other 5xx (none is defined) is treated as hard too.
  return ERROR_CLASS[code] === 'hard-error' || code >= 500;
}

/**
 * An AMQP error: `replyCode` and the RabbitMQ-style `replyText`
 * ("NOT_FOUND - no exchange 'x' in vhost '/'"), plus the class and method
 * that caused it (0 when not tied to a method).
 */
export class AmqpError extends Error {
  readonly replyCode: number;
  readonly replyText: string;
  classId: number;
  methodId: number;

  constructor(replyCode: number, detail: string, classId = 0, methodId = 0) {
    const text = replyText(replyCode, detail);
    super(text);
    this.name = 'AmqpError';
    this.replyCode = replyCode;
    this.replyText = text;
    this.classId = classId;
    this.methodId = methodId;
  }

  get isConnectionError(): boolean {
    return isConnectionError(this.replyCode);
  }
}

/** An error raised by one method, reported against its class and method ids (`methodId` is a MethodId). */
export const methodError = (replyCode: number, detail: string, methodId: number): AmqpError =>
  new AmqpError(replyCode, detail, classIdOf(methodId), methodIndexOf(methodId));

export const frameError = (detail: string): AmqpError => new AmqpError(ReplyCode.FrameError, detail);
export const syntaxError = (detail: string): AmqpError => new AmqpError(ReplyCode.SyntaxError, detail);
export const commandInvalid = (detail: string, classId = 0, methodId = 0): AmqpError =>
  new AmqpError(ReplyCode.CommandInvalid, detail, classId, methodId);
