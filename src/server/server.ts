import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Connection, type ConnectionContext } from './connection.js';
import { Admission } from './admission.js';
import type { UserLimits } from '../broker/limits.js';
import { ResourceAlarms } from './resource-alarms.js';
import { TlsListener, type TlsSettings } from './tls-listener.js';
import { LoginThrottle } from './login-throttle.js';
import { SocketLinger } from './socket-linger.js';
import { ReplyCode, replyText } from '../protocol/index.js';
import { listenTcpGuarded } from '../observe/listen.js';

/**
 * The TCP listener: accepts sockets (up to maxConnections), wraps each in a
 * Connection, and on stop closes every connection with 320 CONNECTION_FORCED.
 */
export class Server {
  private readonly net: NetServer;
  readonly connections = new Set<Connection>();
  private readonly context: ConnectionContext;
  /** Connections accepted and closed since start (RabbitMQ's connections_opened/closed_total). */
  opened = 0;
  closed = 0;

  /** Resource alarms in force, shared with every connection (read when a client publishes). */
  readonly alarms = new ResourceAlarms();

  /** Sockets of connections that sent close-ok, left to their clients to close. */
  readonly lingering = new SocketLinger();

  /** Brute-force damping of failed logins, per address (the management API shares it). */
  readonly loginThrottle = new LoginThrottle();

  /** The amqps listener, when TLS is configured. */
  private tls: TlsListener | null = null;

  /** Sockets accepted before startAccepting(): their bytes wait in the socket until then. */
  private held: Socket[] | null = [];

  constructor(context: Omit<ConnectionContext, 'connectionClosed' | 'alarms' | 'lingering' | 'admission'>, userLimits: ReadonlyMap<string, UserLimits> = new Map()) {
    this.context = {
      ...context,
      admission: new Admission(this.connections, userLimits),
      alarms: this.alarms,
      lingering: this.lingering,
      loginThrottle: this.loginThrottle,
      connectionClosed: (c) => {
        if (this.connections.delete(c)) this.closed++;
      },
    };
    this.net = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  /**
   * Without a host, Node listens on :: — dual-stack, so IPv4 clients arrive as
   * ::ffff:a.b.c.d — and falls back to 0.0.0.0 itself where IPv6 is missing.
   */
  listen(port: number, host: string | undefined): Promise<AddressInfo> {
    return listenTcpGuarded(this.net, port, host, this.context.logger, 'AMQP listener');
  }

  /** Starts the amqps listener (certificate files are read now: a bad one throws). */
  listenTls(settings: TlsSettings, port: number, host: string | undefined): Promise<AddressInfo> {
    this.tls = new TlsListener(settings, this.context.logger, (socket) => this.accept(socket));
    return this.tls.listen(port, host);
  }

  /** Re-reads the TLS certificate files (SIGHUP); open connections are not touched. */
  reloadTls(): boolean {
    if (!this.tls) return false;
    this.tls.reload();
    return true;
  }

  /** The broker is ready (durable state recovered): serve the sockets held so far, and every new one. */
  startAccepting(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const socket of held) if (!socket.destroyed) this.accept(socket);
  }

  private accept(socket: Socket): void {
    if (this.held !== null) {
      this.held.push(socket);
      socket.on('error', () => {}); // a held socket reset by its peer is simply dropped
      return;
    }
    const { options, logger } = this.context;
    if (this.connections.size >= options.maxConnections) {
      logger.warn({ peer: `${socket.remoteAddress}:${socket.remotePort}`, limit: options.maxConnections }, 'connection refused: max connections reached');
      socket.destroy();
      return;
    }
    this.connections.add(new Connection(socket, this.context));
    this.opened++;
  }

  /**
   * The memory alarm was set or cleared. Setting it blocks nobody yet: as in
   * RabbitMQ, a publishing connection is blocked at its next frame. Once no
   * alarm is left, every blocked connection is unblocked.
   */
  setMemoryAlarm(on: boolean): void {
    this.alarms.memory = on;
    this.alarmsChanged();
  }

  /** The disk alarm was set or cleared (same rules as the memory alarm). */
  setDiskAlarm(on: boolean): void {
    this.alarms.disk = on;
    this.alarmsChanged();
  }

  private alarmsChanged(): void {
    if (!this.alarms.blocking) for (const c of this.connections) c.resourceAlarmCleared();
  }

  /**
   * Sends connection.close (`code`, `text`) to every client at once — from
   * then on nothing they send is acted on, and their channels' unacked
   * messages are back in their queues — and resolves when every socket is
   * gone (a client that does not answer is cut off after closeTimeout).
   */
  closeAll(code: number, text: string): Promise<void> {
    const { closeTimeout } = this.context.options;
    return Promise.all([...this.connections].map((c) => withTimeout(c.closeGracefully(code, text), closeTimeout + 500, () => c.socket.destroy()))).then(() => undefined);
  }

  /**
   * Closes the connections `which` selects with 320 CONNECTION_FORCED and
   * `reason` (a deleted vhost or user); resolves when they are gone.
   */
  async closeConnections(which: (c: Connection) => boolean, reason: string): Promise<void> {
    const { closeTimeout } = this.context.options;
    const chosen = [...this.connections].filter(which);
    await Promise.all(chosen.map((c) => withTimeout(c.closeGracefully(ReplyCode.ConnectionForced, replyText(ReplyCode.ConnectionForced, reason)), closeTimeout + 500, () => c.socket.destroy())));
  }

  /** Stops accepting, asks every client to close (320), and waits up to closeTimeout for them. */
  async stop(reason = 'broker forced connection closure with reason \'shutdown\''): Promise<void> {
    const closed = Promise.all([new Promise<void>((resolve) => this.net.close(() => resolve())), this.tls?.close()]);
    for (const socket of this.held ?? []) socket.destroy();
    this.held = null;
    await this.closeAll(ReplyCode.ConnectionForced, replyText(ReplyCode.ConnectionForced, reason));
    // The listener closes only once every socket has; those left to their clients end now.
    this.lingering.endAll();
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
