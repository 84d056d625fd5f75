import { AmqpError, ReplyCode } from '../protocol/index.js';

/**
 * An HTTP error answered as RabbitMQ's management plugin does: a status and a
 * JSON body `{"error": <type>, "reason": <text>}`.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
    /** Extra response headers (WWW-Authenticate on 401 without credentials). */
    readonly headers: Record<string, string> = {},
  ) {
    super(reason);
    this.name = 'HttpError';
  }
}

/** RabbitMQ's realm (rabbit_mgmt.hrl AUTH_REALM). */
export const AUTH_REALM = 'Basic realm="RabbitMQ Management"';

/** A request without credentials, or with wrong ones (RabbitMQ's not_authenticated: "Not_Authorized"). */
export const notAuthenticated = (): HttpError => new HttpError(401, 'not_authorized', 'Not_Authorized', { 'WWW-Authenticate': AUTH_REALM });

/** An authenticated user not allowed to do this (RabbitMQ spells this one not_authorised). */
export const notAuthorised = (reason: string): HttpError => new HttpError(401, 'not_authorised', reason);

/** Unknown object or vhost: RabbitMQ's generic 404 body. */
export const notFound = (): HttpError => new HttpError(404, 'Object Not Found', 'Not Found');

export const badRequest = (reason: string): HttpError => new HttpError(400, 'bad_request', reason);

export const methodNotAllowed = (): HttpError => new HttpError(405, 'Method Not Allowed', 'Method Not Allowed');

/**
 * A model operation failed with an AMQP error: answered as RabbitMQ's
 * management plugin answers a failed channel operation (rabbit_mgmt_util:
 * with_channel): 404 with the text, 403/530 as not authorised, anything else
 * 400 "<code> <text>".
 */
export function fromAmqpError(err: AmqpError): HttpError {
  if (err.replyCode === ReplyCode.NotFound) return new HttpError(404, 'not_found', err.replyText);
  if (err.replyCode === ReplyCode.AccessRefused || err.replyCode === ReplyCode.NotAllowed) return notAuthorised(err.replyText);
  return badRequest(`${err.replyCode} ${err.replyText}`);
}
