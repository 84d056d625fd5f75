import type { IncomingMessage } from 'node:http';
import { badRequest } from './errors.js';

/**
 * Largest request body accepted. RabbitMQ's max_http_body_size defaults to
 * 20 MB; Warren's API bodies (declarations, test publishes) are small, so
 * 4 MiB bounds the memory one request can take.
 */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Reads a request body up to `limit` bytes; beyond that, 400 (as RabbitMQ) and the rest is drained, not kept. */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume(); // drain without keeping it
      reject(badRequest('Exceeded HTTP request body size limit'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(badRequest('Exceeded HTTP request body size limit'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

export type JsonObject = Record<string, unknown>;

/**
 * The body as a JSON object, as RabbitMQ's rabbit_mgmt_util:decode: empty,
 * "null" and "undefined" are an empty object; anything else that is not a
 * JSON object is 400 not_json.
 */
export function parseJsonObject(body: Buffer): JsonObject {
  const text = body.toString('utf8').trim();
  if (text === '' || text === 'null' || text === 'undefined') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('not_json');
  }
  if (typeof value === 'string') throw badRequest('invalid payload: the request body JSON-decoded to a string. Is the input doubly-JSON-encoded?');
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badRequest('not_json');
  return value as JsonObject;
}
