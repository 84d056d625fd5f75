import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ManagementBackend } from './backend.js';
import { renderMetrics } from './metrics.js';

/**
 * The Prometheus endpoint (RabbitMQ's rabbitmq_prometheus, port 15692):
 * GET /metrics (aggregated) and /metrics/per-object, text exposition format,
 * no authentication (as RabbitMQ's default). Failures are contained: logged,
 * answered 500, the broker keeps serving.
 */
export class PrometheusServer {
  private readonly http: Server;

  constructor(private readonly backend: ManagementBackend) {
    this.http = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const perObject = path === '/metrics/per-object';
      if ((path !== '/metrics' && !perObject) || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('Not Found\n');
        return;
      }
      renderMetrics(this.backend, perObject).then(
        ({ contentType, text }) => {
          res.writeHead(200, { 'content-type': contentType, 'content-length': String(Buffer.byteLength(text)) });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => {
          this.backend.logger.error({ err }, 'metrics scrape failed');
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('metrics unavailable\n');
        },
      );
    });
    this.http.requestTimeout = 30_000;
    this.http.on('clientError', (_err, socket) => socket.destroy());
  }

  listen(port: number, host: string | undefined): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}
