import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Broker } from '../../src/index.js';

/** A real HTTP request to a broker's management API (fetch), with Basic credentials by default. */
export interface ApiResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or null when there is none. */
  body: unknown;
  text: string;
}

export interface ApiOptions {
  method?: string;
  body?: unknown;
  /** Raw body text (sent as is). */
  raw?: string | Buffer;
  user?: string;
  password?: string;
  /** false: send no Authorization header at all. */
  auth?: boolean;
  headers?: Record<string, string>;
}

export async function api(broker: Broker, path: string, o: ApiOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.auth !== false) headers.authorization = `Basic ${Buffer.from(`${o.user ?? 'guest'}:${o.password ?? 'guest'}`).toString('base64')}`;
  let body: string | Buffer | undefined;
  if (o.raw !== undefined) body = o.raw;
  else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`http://127.0.0.1:${broker.managementHttpPort}${path}`, { method: o.method ?? 'GET', headers, body });
  const text = await res.text();
  let parsed: unknown = null;
  if (text !== '') parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** The body of a successful GET, typed loosely for field checks. */
export async function get<T = Record<string, unknown>>(broker: Broker, path: string, o: ApiOptions = {}): Promise<T> {
  const r = await api(broker, path, o);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
  return r.body as T;
}

/**
 * Sends the body-less request `open` makes (with node:http's or node:https's
 * request(), for what fetch cannot send) and resolves with its status and text.
 */
export function requestText(open: (onResponse: (res: IncomingMessage) => void) => ClientRequest): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = open((res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
