import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ManagementBackend } from './backend.js';
import { renderMetrics } from './metrics.js';
import { renderDetailed } from './metrics-detailed.js';
import { listenTcpGuarded } from '../observe/listen.js';

/**
 * The Prometheus endpoint (RabbitMQ's rabbitmq_prometheus, port 15692):
 * GET /metrics (aggregated), /metrics/per-object and /metrics/detailed
 * (?family=…&vhost=…), text exposition format,
 * no authentication (as RabbitMQ's default). Failures are contained: logged,
 * answered 500, the broker keeps serving.
 */
export class PrometheusServer {
  private readonly http: Server;

  constructor(private readonly backend: ManagementBackend) {
    this.http = createServer((req, res) => {
      // The last line of defence: nothing a request does may end the process
      // (new URL() throws on a request target such as "http://[").
      try {
        this.respond(req, res);
      } catch (err) {
        this.backend.logger.error({ err, method: req.method, url: req.url }, 'metrics request failed');
        if (res.headersSent) res.destroy();
        else {
          res.writeHead(400, { 'content-type': 'text/plain' });
          res.end('Bad Request\n');
        }
      }
    });
    this.http.requestTimeout = 30_000;
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  private respond(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const known = path === '/metrics' || path === '/metrics/per-object' || path === '/metrics/detailed';
    if (!known || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('Not Found\n');
      return;
    }
    const vhosts = url.searchParams.getAll('vhost');
    const rendered = path === '/metrics/detailed'
      ? renderDetailed(this.backend, new Set(url.searchParams.getAll('family')), vhosts.length > 0 ? new Set(vhosts) : null)
      : renderMetrics(this.backend, path === '/metrics/per-object');
    rendered.then(
      ({ contentType, text }) => {
        res.writeHead(200, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(text)) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        this.backend.logger.error({ err }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('metrics unavailable\n');
      },
    ).catch((err: unknown) => {
      this.backend.logger.error({ err }, 'metrics could not be sent');
      res.destroy();
    });
  }

  listen(port: number, host: string | undefined): Promise<AddressInfo> {
    return listenTcpGuarded(this.http, port, host, this.backend.logger, 'Prometheus listener');
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}
