/**
 * A follower's TCP proxy: AMQP (and management HTTP) connections to a
 * follower are piped to the current leader, so a client that knows any node
 * reaches the leader. With no leader known the connection is closed.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly target: () => string | null) {
    this.server = createServer((client) => this.pipe(client));
  }

  static listen(port: number, host: string, target: () => string | null): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    return new Promise((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(port, host, () => {
        proxy.server.off('error', reject);
        resolve(proxy);
      });
    });
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private pipe(client: Socket): void {
    const address = this.target();
    if (!address) {
      client.destroy();
      return;
    }
    const at = address.lastIndexOf(':');
    const upstream = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
    this.sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Stops listening and drops every proxied connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
