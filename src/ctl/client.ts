import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Where `warren ctl` sends its requests: the control socket (no credentials) or the management API over HTTP(S). */
export type Target = { readonly kind: 'socket'; readonly path: string } | { readonly kind: 'http'; readonly url: URL; readonly user: string; readonly password: string };

/** A failure reported as one line on stderr; exit 1, or 2 for bad usage. */
export class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CtlError';
  }
}

export const usageError = (message: string): CtlError => new CtlError(message, 2);

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

/** What the caller makes of a 404: its own words ("user 'bob' does not exist"), or success for idempotent deletes. */
export type NotFound = string | (() => Promise<string | null>);

/** Connection errors that mean nothing answers at the address. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'ENOTSOCK']);

/** Long enough for a definitions import on a loaded machine; rabbitmqctl's default timeout too. */
const REQUEST_TIMEOUT_MS = 60_000;

/** A small client of the management API: JSON in, JSON out, one request at a time per call. */
export class ApiClient {
  constructor(readonly target: Target) {}

  /** The address as the user would recognise it, for error messages. */
  describe(): string {
    return this.target.kind === 'socket' ? this.target.path : this.target.url.origin;
  }

  /** Sends one request; only transport failures throw here (statuses are the caller's to judge, see `expect`). */
  send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const all: Record<string, string> = { accept: 'application/json', ...headers };
    if (payload) {
      all['content-type'] = 'application/json';
      all['content-length'] = String(payload.length);
    }
    const t = this.target;
    let options: RequestOptions;
    let send = httpRequest;
    if (t.kind === 'socket') options = { socketPath: t.path, path, method, headers: all, agent: false };
    else {
      all.authorization = `Basic ${Buffer.from(`${t.user}:${t.password}`, 'utf8').toString('base64')}`;
      const base = t.url.pathname.replace(/\/+$/, '');
      options = { protocol: t.url.protocol, hostname: t.url.hostname.replace(/^\[|\]$/g, ''), port: t.url.port || undefined, path: base + path, method, headers: all, agent: false };
      if (t.url.protocol === 'https:') send = httpsRequest;
    }
    return new Promise((resolve, reject) => {
      let req;
      try {
        req = send(options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(this.transportError(err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = undefined;
            if (text.length > 0) {
              try {
                parsed = JSON.parse(text);
              } catch {
                reject(new CtlError(`the server at ${this.describe()} answered ${res.statusCode} with something that is not JSON: is it a Warren or RabbitMQ management API?`));
                return;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        });
      } catch (err) {
        // Node refuses header values it cannot send (a reason with a line break or non-Latin-1 text).
        reject(usageError(`cannot send this request: ${(err as Error).message}`));
        return;
      }
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) => reject(this.transportError(err)));
      req.end(payload);
    });
  }

  /** Sends a request and turns every non-2xx status into a CtlError with the API's reason. */
  async expect(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; notFound?: NotFound } = {}): Promise<unknown> {
    const res = await this.send(method, path, options.body, options.headers);
    if (res.status >= 200 && res.status < 300) return res.body;
    if (res.status === 404 && options.notFound !== undefined) {
      const said = typeof options.notFound === 'string' ? options.notFound : await options.notFound();
      if (said === null) return undefined;
      throw new CtlError(said);
    }
    throw this.statusError(res);
  }

  private statusError(res: ApiResponse): CtlError {
    const b = (res.body ?? {}) as { error?: unknown; reason?: unknown };
    // One line: RabbitMQ's validation texts span several ("Validation failed\n\n... is not a valid ...\n").
    const text = typeof b.reason === 'string' ? b.reason : typeof b.error === 'string' ? b.error : `HTTP ${res.status}`;
    const reason = text.trim().replace(/\s*\n\s*/g, ': ');
    if (res.status === 401 && b.error === 'not_authorized') {
      const who = this.target.kind === 'http' ? `user '${this.target.user}'` : 'this request';
      return new CtlError(`the broker at ${this.describe()} refused the credentials of ${who} (401 ${reason})`);
    }
    if (res.status === 401) return new CtlError(`access refused: ${reason}`);
    return new CtlError(`${reason} (HTTP ${res.status})`);
  }

  private transportError(err: NodeJS.ErrnoException): CtlError {
    if (err.code !== undefined && UNREACHABLE.has(err.code)) return new CtlError(`cannot reach the broker at ${this.describe()}: is it running? (${err.code})`);
    if (err.code === 'EACCES' && this.target.kind === 'socket') return new CtlError(`may not open the control socket ${this.target.path}: run as the broker's OS user, or use --url with a management user`);
    return new CtlError(`cannot talk to the broker at ${this.describe()}: ${err.message}`);
  }
}

/** A path segment: RabbitMQ's URLs percent-encode every name ("/" is %2F). */
export const seg = (s: string): string => encodeURIComponent(s);
