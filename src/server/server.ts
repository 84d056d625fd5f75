import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Connection, type ConnectionContext } from './connection.js';

/**
 * The TCP listener: accepts sockets (up to maxConnections), wraps each in a
 * Connection, and on stop closes every connection with 320 CONNECTION_FORCED.
 */
export class Server {
  private readonly net: NetServer;
  readonly connections = new Set<Connection>();
  private readonly context: ConnectionContext;

  constructor(context: Omit<ConnectionContext, 'connectionClosed'>) {
    this.context = { ...context, connectionClosed: (c) => this.connections.delete(c) };
    this.net = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.net.once('error', onError);
      this.net.listen(port, host, () => {
        this.net.off('error', onError);
        resolve(this.net.address() as AddressInfo);
      });
    });
  }

  private accept(socket: Socket): void {
    const { options, logger } = this.context;
    if (this.connections.size >= options.maxConnections) {
      logger.warn({ peer: `${socket.remoteAddress}:${socket.remotePort}`, limit: options.maxConnections }, 'connection refused: max connections reached');
      socket.destroy();
      return;
    }
    this.connections.add(new Connection(socket, this.context));
  }

  /** Stops accepting, asks every client to close (320), and waits up to closeTimeout for them. */
  async stop(reason = 'broker forced connection closure with reason \'shutdown\''): Promise<void> {
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    const { closeTimeout } = this.context.options;
    await Promise.all([...this.connections].map((c) => withTimeout(c.closeGracefully(320, `CONNECTION_FORCED - ${reason}`), closeTimeout + 500, () => c.socket.destroy())));
    await closed;
  }
}

function withTimeout(p: Promise<void>, ms: number, onTimeout: () => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      onTimeout();
      resolve();
    }, ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
