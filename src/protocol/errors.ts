/**
 * Errors raised by the codec. Each carries the AMQP reply code the server must
 * answer with, so the session layer can turn any codec failure into the right
 * `connection.close` without knowing where it came from.
 */
export const ReplyCode = {
  ContentTooLarge: 311,
  NoRoute: 312,
  NoConsumers: 313,
  ConnectionForced: 320,
  InvalidPath: 402,
  AccessRefused: 403,
  NotFound: 404,
  ResourceLocked: 405,
  PreconditionFailed: 406,
  FrameError: 501,
  SyntaxError: 502,
  CommandInvalid: 503,
  ChannelError: 504,
  UnexpectedFrame: 505,
  ResourceError: 506,
  NotAllowed: 530,
  NotImplemented: 540,
  InternalError: 541,
} as const;

export type ReplyCodeValue = (typeof ReplyCode)[keyof typeof ReplyCode];

/** RabbitMQ's reply-text prefix for each code, e.g. `NOT_FOUND - no queue 'q' in vhost '/'`. */
export const REPLY_NAMES: Readonly<Record<number, string>> = {
  200: 'OK',
  311: 'CONTENT_TOO_LARGE',
  312: 'NO_ROUTE',
  313: 'NO_CONSUMERS',
  320: 'CONNECTION_FORCED',
  402: 'INVALID_PATH',
  403: 'ACCESS_REFUSED',
  404: 'NOT_FOUND',
  405: 'RESOURCE_LOCKED',
  406: 'PRECONDITION_FAILED',
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  504: 'CHANNEL_ERROR',
  505: 'UNEXPECTED_FRAME',
  506: 'RESOURCE_ERROR',
  530: 'NOT_ALLOWED',
  540: 'NOT_IMPLEMENTED',
  541: 'INTERNAL_ERROR',
};

/** reply-text is a shortstr: past 255 bytes keep 252 and add "..." (as RabbitMQ). */
export function truncateReplyText(text: string): string {
  if (Buffer.byteLength(text) <= 255) return text;
  let cut = Buffer.from(text).subarray(0, 252).toString('utf8');
  // A multi-byte character cut in half decodes to U+FFFD: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  while (Buffer.byteLength(cut) > 252) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/** Codes that close the whole connection rather than one channel (AMQP "hard errors"). */
export function isConnectionError(code: number): boolean {
  return code === 320 || code === 402 || code >= 500;
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
    const replyText = truncateReplyText(`${REPLY_NAMES[replyCode] ?? 'ERROR'} - ${detail}`);
    super(replyText);
    this.name = 'AmqpError';
    this.replyCode = replyCode;
    this.replyText = replyText;
    this.classId = classId;
    this.methodId = methodId;
  }

  get isConnectionError(): boolean {
    return isConnectionError(this.replyCode);
  }
}

export const frameError = (detail: string): AmqpError => new AmqpError(ReplyCode.FrameError, detail);
export const syntaxError = (detail: string): AmqpError => new AmqpError(ReplyCode.SyntaxError, detail);
export const commandInvalid = (detail: string, classId = 0, methodId = 0): AmqpError =>
  new AmqpError(ReplyCode.CommandInvalid, detail, classId, methodId);
