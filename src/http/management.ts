import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { UserRecord } from '../auth/access-control.js';
import type { ManagementBackend } from './backend.js';
import { RequestContext, type Handler, type Reply } from './context.js';
import { HttpError } from './errors.js';
import { jsonText } from './json-text.js';
import { Router } from './router.js';
import { registerAdminRoutes } from './routes-admin.js';
import { registerDefinitionRoutes } from './routes-definitions.js';
import { registerObjectRoutes } from './routes-objects.js';
import { registerOverviewRoutes } from './routes-overview.js';
import { registerWriteRoutes } from './routes-write.js';
import { registerPolicyRoutes } from './routes-policies.js';
import { StaticFiles } from './static-files.js';
import { listenTcpGuarded } from '../observe/listen.js';
import { authenticateDamped } from './login-damping.js';

/** HTTPS for the API: the AMQP listener's certificate and key files (RabbitMQ's management.ssl). */
export interface ManagementTls {
  cert: string;
  key: string;
  ca: string | undefined;
}

/**
 * The management HTTP API (RabbitMQ's paths, JSON shapes, status codes),
 * on node:http. Every request is authenticated (HTTP Basic), routed, and
 * answered as JSON; any failure in a handler is contained here: logged, and
 * answered 500, the broker keeps serving.
 */
export class ManagementServer {
  private readonly http: Server;
  private https: Server | null = null;
  private readonly router = new Router<Handler>();
  /** The web UI (served at "/", no authentication: the page's API calls carry it). */
  private readonly ui = new StaticFiles();
  private readonly listener: RequestListener;

  constructor(private readonly backend: ManagementBackend) {
    registerOverviewRoutes(this.router);
    registerObjectRoutes(this.router);
    registerWriteRoutes(this.router);
    registerAdminRoutes(this.router);
    registerDefinitionRoutes(this.router);
    registerPolicyRoutes(this.router);
    this.listener = this.handlerFor(null);
    this.http = guard(createServer(this.listener));
  }

  listen(port: number, host: string | undefined): Promise<AddressInfo> {
    return listenTcpGuarded(this.http, port, host, this.backend.logger, 'management listener');
  }

  /** Serves the same API over HTTPS too (throws when the certificate files cannot be read). */
  listenTls(port: number, host: string | undefined, tls: ManagementTls): Promise<AddressInfo> {
    const read = (path: string): Buffer => readFileSync(path);
    this.https = guard(createHttpsServer({ cert: read(tls.cert), key: read(tls.key), ...(tls.ca ? { ca: read(tls.ca) } : {}), minVersion: 'TLSv1.2' }, this.listener));
    return listenTcpGuarded(this.https, port, host, this.backend.logger, 'management TLS listener');
  }

  close(): Promise<void> {
    const closing = [this.http, this.https].map((s) => new Promise<void>((resolve) => {
      if (s === null || !s.listening) return resolve();
      s.close(() => resolve());
      s.closeAllConnections();
    }));
    return Promise.all(closing).then(() => undefined);
  }

  /**
   * The request handler. `trusted` is the identity every request acts as,
   * unauthenticated: only the control socket's listener (a Unix socket only
   * the broker's OS user can open) passes one; the TCP listener passes null.
   */
  handlerFor(trusted: UserRecord | null): RequestListener {
    return (req, res) => {
      // The last line of defence: nothing a request does may end the process.
      this.handle(req, res, trusted).catch((err: unknown) => {
        this.backend.logger.error({ err, method: req.method, url: req.url }, 'management API could not answer');
        res.destroy();
      });
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse, trusted: UserRecord | null): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if ((req.method === 'GET' || req.method === 'HEAD') && this.ui.has(url.pathname)) {
        await this.ui.serve(url.pathname, res, req.method === 'HEAD');
        return;
      }
      const match = this.router.match(req.method ?? 'GET', url.pathname);
      const b = this.backend;
      const user = trusted ?? (await authenticateDamped(req, { access: b.access, loopbackUsers: b.options.loopbackUsers, throttle: b.loginThrottle, logger: b.logger }));
      const ctx = new RequestContext(req, this.backend, user, match.params, url.searchParams);
      const reply = await match.handler(ctx);
      // A change is acknowledged once it is durable (journal synced; on a cluster leader, replicated).
      if (req.method !== 'GET' && req.method !== 'HEAD') await this.backend.whenDefinitionsDurable();
      send(res, reply, req.method === 'HEAD');
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.status >= 500) this.backend.logger.error({ err, method: req.method, url: req.url }, 'management API error');
        send(res, { status: err.status, body: { error: err.error, reason: err.reason }, headers: err.headers }, false);
        return;
      }
      this.backend.logger.error({ err, method: req.method, url: req.url }, 'management API request failed');
      send(res, { status: 500, body: { error: 'internal_server_error', reason: err instanceof Error ? err.message : String(err) } }, false);
    }
  }
}

/** A client that never finishes its request does not hold a socket forever; broken clients are dropped quietly. */
function guard<S extends Server>(server: S): S {
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.on('clientError', (_err, socket) => socket.destroy());
  return server;
}


function send(res: ServerResponse, reply: Reply, headOnly: boolean): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = reply.status ?? 200;
  const headers: Record<string, string> = { 'cache-control': 'no-cache', vary: 'accept, accept-encoding, origin', ...reply.headers };
  if (reply.body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const bytes = Buffer.from(jsonText(reply.body), 'utf8');
  headers['content-type'] = 'application/json';
  headers['content-length'] = String(bytes.length);
  res.writeHead(status, headers);
  res.end(headOnly ? undefined : bytes);
}
