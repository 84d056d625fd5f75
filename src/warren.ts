import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Administration, FULL_ACCESS } from './admin/administration.js';
import type { UserLimits } from './broker/limits.js';
import { AccessControl } from './auth/access-control.js';
import type { VirtualHost } from './broker/virtual-host.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './config.js';
import { createLogger, type Logger } from './observe/logger.js';
import { Server } from './server/server.js';
import type { MemoryAlarm } from './server/memory-alarm.js';
import type { DiskAlarm } from './server/disk-alarm.js';
import { diskAlarm, memoryAlarm } from './broker-alarms.js';
import { DurableState } from './durable-state.js';
import { BrokerAdministration } from './broker-administration.js';
import { listBindings, listExchanges, listQueues, peekQueueNamed, type BindingInfo, type ExchangeInfo, type QueueInfo } from './broker-read-side.js';
import type { StoreReplication } from './store/replication.js';
import { serverProperties } from './server/server-properties.js';
import { VERSION } from './version.js';
import { ReplyCode, replyText } from './protocol/index.js';
import type { PeekedMessage } from './broker/snapshots.js';
import type { ConnectionInfo } from './server/connection-info.js';
import { amqpUrl, type UrlOptions } from './testing/url.js';
import { brokerIdleProbe, waitUntilIdle, type IdleOptions } from './testing/when-idle.js';
import { captureDefinitions, restoreDefinitions, type InitialDefinitions } from './testing/reset.js';

export type { BindingInfo, ExchangeInfo, QueueInfo } from './broker-read-side.js';

/**
 * What an embedded broker does unless told otherwise: a free port, and quiet
 * logs (warnings and errors only) so test output stays readable. Without a
 * dataDir everything stays in memory. The CLI sets its own defaults (5672, info).
 */
const EMBEDDED_DEFAULTS = { port: 0, logLevel: 'warn' } as const;
import { hostname, availableParallelism } from 'node:os';
import { Statistics } from './broker/statistics.js';
import type { LoginThrottle } from './server/login-throttle.js';
import { ManagementServer } from './http/management.js';
import { CONTROL_SOCKET_NAME, CONTROL_SOCKET_USER, ControlSocket } from './http/control-socket.js';
import { PrometheusServer } from './http/prometheus.js';
import type { ClusterView, Listener, ManagementBackend, NodeFacts } from './http/backend.js';
import { diskFree, fileDescriptorLimit, openFileDescriptors } from './observe/node-facts.js';
import type { ConnectionSnapshot } from './server/snapshot.js';


/**
 * An embeddable Warren broker: `const broker = await Broker.start({ port: 0 })`,
 * then `broker.port`, and `await broker.stop()`. The CLI runs the same code.
 */
export class Broker extends BrokerAdministration implements ManagementBackend {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly vhosts = new Map<string, VirtualHost>();
  /** Users, permissions and topic permissions (RabbitMQ's internal auth backend). */
  readonly access = new AccessControl();
  /** What start-up defined, for reset(). */
  private initialDefinitions: InitialDefinitions | null = null;
  protected readonly admin: Administration;
  private readonly server: Server;
  private boundPort = 0;
  private boundTlsPort = 0;
  private boundHost = '';
  private stopping: Promise<void> | null = null;
  private durable: DurableState | null = null;
  private readonly memory: MemoryAlarm;
  /** Rate sampling and totals for the management API and metrics. */
  readonly statistics: Statistics;
  /** RabbitMQ-style node name ("warren@host"). */
  readonly nodeName = `warren@${hostname()}`;
  readonly clusterName: string;
  private readonly startedAt = Date.now();
  private management: ManagementServer | null = null;
  /** `warren ctl`'s way in on this machine: the management API on a Unix socket in the data directory. */
  private controlSocket: ControlSocket | null = null;
  private managementPort = 0;
  private managementTlsPort = 0;
  private prometheus: PrometheusServer | null = null;
  private prometheusPort = 0;
  private readonly disk: DiskAlarm;
  /** Set when the broker stopped itself on an error it cannot serve through. */
  private fatalError: Error | null = null;
  /**
   * Called after the broker stopped itself on a fatal error (a message store
   * failure other than a full disk). The CLI exits non-zero, so a supervisor
   * restarts it; an embedding app decides for itself.
   */
  onFatal: ((err: Error) => void) | null = null;
  /** Set by a cluster leader: what /api/nodes and the warren_cluster_* metrics show. */
  clusterSource: (() => ClusterView) | null = null;

  private constructor(private readonly given: BrokerOptions) {
    super();
    this.options = resolveOptions(given);
    this.logger = given.logger ?? createLogger({ level: given.logLevel ?? EMBEDDED_DEFAULTS.logLevel, pretty: given.logPretty });
    this.clusterName = this.options.clusterName ?? this.nodeName;
    const userLimits = new Map<string, UserLimits>();
    this.server = new Server({
      options: this.options,
      access: this.access,
      vhosts: this.vhosts,
      logger: this.logger,
      serverProperties: serverProperties(this.options.clusterName, this.options.productName),
    }, userLimits);
    this.admin = new Administration(this.vhosts, this.access, this.server, this.logger, userLimits);
    this.statistics = new Statistics(this.vhosts, () => [...this.server.connections].map((c) => ({ id: c.id, recvOct: c.socket.bytesRead, sendOct: c.socket.bytesWritten })));
    this.memory = memoryAlarm(this.options, this.logger, this.server);
    this.disk = diskAlarm(this.options, this.logger, this.server);
  }

  /**
   * Starts a broker and resolves once it is listening. The port is bound
   * before the data directory is touched (a taken port fails fast and leaves
   * no ./data behind); clients that connect while the durable state is being
   * recovered wait until it is.
   */
  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const broker = new Broker({ ...options, port: options.port ?? EMBEDDED_DEFAULTS.port });
    const o = broker.options;
    let address: AddressInfo | undefined;
    try {
      if (o.tls) {
        const tls = await broker.server.listenTls({ ...o.tls, handshakeTimeout: o.handshakeTimeout }, o.tls.port, o.host);
        broker.boundTlsPort = tls.port;
        address = tls;
      }
      if (o.plain) address = await broker.server.listen(o.port, o.host);
    } catch (err) {
      await broker.server.stop(); // a TLS listener already up goes too
      throw err;
    }
    try {
      // Every port is bound before the data directory is touched. (Recovery below is synchronous:
      // no request is served before it is done.)
      if (o.management) {
        broker.management = new ManagementServer(broker);
        broker.managementPort = (await broker.management.listen(o.management.port, o.host)).port;
        const tlsPort = o.management.tlsPort;
        if (tlsPort !== undefined && o.tls) {
          broker.managementTlsPort = (await broker.management.listenTls(tlsPort, o.host, { cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca })).port;
        }
      }
      if (o.prometheus) {
        broker.prometheus = new PrometheusServer(broker);
        broker.prometheusPort = (await broker.prometheus.listen(o.prometheus.port, o.host)).port;
      }
      if (o.dataDir !== undefined) {
        broker.durable = DurableState.open(broker.vhosts, {
          dataDir: o.dataDir,
          fsync: o.fsync,
          queueMemoryWindow: o.queueMemoryWindow,
          segmentSize: o.segmentSize,
          logger: broker.logger,
          messageLogIo: options.messageLogIo,
        });
        const log = broker.durable.log;
        log.onFailure = (err) => broker.fail(err, 'message store failed; stopping the broker');
        // A full disk is not fatal: publishers are blocked until the log's retried write succeeds.
        log.onWriteFailed = () => broker.disk.writeFailed(true);
        log.onWriteRecovered = () => broker.disk.writeFailed(false);
        broker.durable.journal.onFailure = (err) => broker.fail(err, 'definitions journal failed; stopping the broker');
        broker.admin.attachStore(broker.durable.journal, log, broker.durable.durability, broker.durable.queueStorage, broker.durable.restored);
        broker.disk.start();
      }
      broker.applyStartupDefinitions();
    } catch (err) {
      broker.disk.stop();
      await broker.server.stop();
      await broker.management?.close();
      await broker.prometheus?.close();
      await broker.durable?.close();
      throw err;
    }
    if (o.dataDir !== undefined) await broker.openControlSocket(o.dataDir);
    broker.initialDefinitions = captureDefinitions(broker.admin, broker.access);
    broker.server.startAccepting();
    broker.memory.start();
    broker.statistics.start(undefined, broker.logger);
    if (broker.management) broker.logger.info({ host: o.host, port: broker.managementPort, tlsPort: broker.managementTlsPort || undefined }, 'management API listening');
    if (broker.prometheus) broker.logger.info({ host: o.host, port: broker.prometheusPort }, 'Prometheus metrics listening');
    broker.boundPort = o.plain ? address!.port : 0;
    broker.boundHost = address!.address;
    broker.logger.info({ host: address!.address, port: o.plain ? address!.port : undefined, tlsPort: o.tls ? broker.boundTlsPort : undefined, version: VERSION }, 'Warren listening');
    return broker;
  }

  /** A broker without its control socket still serves (`warren ctl --url` reaches it over HTTP). */
  private async openControlSocket(dataDir: string): Promise<void> {
    const path = join(dataDir, CONTROL_SOCKET_NAME);
    try {
      this.controlSocket = await ControlSocket.listen(path, (this.management ?? new ManagementServer(this)).handlerFor(CONTROL_SOCKET_USER));
    } catch (err) {
      this.logger.error({ err, path }, 'cannot open the control socket; warren ctl must use the management API (--url)');
    }
  }

  /**
   * Start-up: configured vhosts, definitions to import, `users` (administrators
   * with full permissions), and on a fresh data directory with none of those,
   * RabbitMQ's default guest/guest (administrator, `.* .* .*` on /, loopback only).
   */
  private applyStartupDefinitions(): void {
    const o = this.options;
    const fresh = !this.durable?.restored.auth.known;
    if (fresh || this.given.vhosts !== undefined) for (const name of o.vhosts) this.admin.createVhost(name);
    if (o.definitions !== undefined) {
      this.admin.importDefinitions(typeof o.definitions === 'string' ? Administration.readFile(o.definitions) : o.definitions);
    }
    for (const u of o.users) {
      const tags = [...new Set([...(u.tags ?? []), 'administrator'])];
      this.access.addUser(u.name, u.password, tags);
      if (u.vhosts) {
        for (const v of u.vhosts) this.admin.createVhost(v);
      } else this.admin.everyVhostUsers.add(u.name);
      for (const v of u.vhosts ?? this.vhosts.keys()) this.access.setPermissions({ user: u.name, vhost: v, ...FULL_ACCESS });
    }
    if (fresh && o.users.length === 0 && this.access.listUsers().length === 0) {
      this.access.addUser('guest', 'guest', ['administrator']);
      if (this.vhosts.has('/')) this.access.setPermissions({ user: 'guest', vhost: '/', ...FULL_ACCESS });
    }
  }

  /** The amqps port actually listened on (0 without TLS). */
  get tlsPort(): number {
    return this.boundTlsPort;
  }

  /**
   * Re-reads the TLS certificate, key and CA files (what SIGHUP does for the
   * CLI): new handshakes use them, open connections are not touched. Throws,
   * keeping the old certificates, when a file cannot be read or used.
   */
  reloadTls(): void {
    if (!this.server.reloadTls()) throw new Error('TLS is not configured');
    this.logger.info('TLS certificates reloaded');
  }

  /** The port actually listened on (useful with port 0). */
  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.boundHost;
  }

  /**
   * An AMQP URL that connects: the first configured user (or `user`, with its
   * configured password unless `password` is given), vhost "/" (or the
   * first one the user may open, or `vhost`), and the loopback address when
   * the broker listens on every interface. Throws when no such URL could
   * connect (unknown vhost, a vhost the user may not open…).
   */
  url(options?: UrlOptions): string;
  /** The older form: `url(user, password)`. */
  url(user: string, password?: string): string;
  url(userOrOptions: UrlOptions | string = {}, password?: string): string {
    const options = typeof userOrOptions === 'string' ? { user: userOrOptions, password } : userOrOptions;
    const o = this.options;
    // Without configured users, the broker's default guest/guest (when it exists).
    const users = o.users.length > 0 ? o.users : this.access.user('guest') ? [{ name: 'guest', password: 'guest' }] : [];
    return amqpUrl({
      host: this.boundHost,
      port: this.boundPort,
      users,
      loopbackUsers: o.loopbackUsers,
      vhosts: [...this.vhosts.keys()],
      mayOpen: (user, vhost) => this.access.mayOpen(user, vhost),
    }, options);
  }

  get connectionCount(): number {
    return this.server.connections.size;
  }

  // ------------------------------------------------------------------ read side (plain objects, copies)

  /** Every queue (of one vhost, or all): counts of ready and unacked messages, consumers, arguments. */
  queues(vhost?: string): QueueInfo[] {
    return listQueues(this.vhosts, vhost);
  }

  /** Exchanges, including the default and amq.* ones every vhost has. */
  exchanges(vhost?: string): ExchangeInfo[] {
    return listExchanges(this.vhosts, vhost);
  }

  /** Bindings, including the default exchange's implicit one to each queue (source ''), as rabbitmqctl lists them. */
  bindings(vhost?: string): BindingInfo[] {
    return listBindings(this.vhosts, vhost);
  }

  /** The ready messages of a queue (up to `count`, default all) in delivery order; nothing is consumed. */
  peek(queue: string, options: { count?: number; vhost?: string } = {}): PeekedMessage[] {
    return peekQueueNamed(this.vhosts, queue, options);
  }

  /** The client connections, handshake in progress included. */
  connections(): ConnectionInfo[] {
    return [...this.server.connections].map((c) => c.info());
  }

  // ------------------------------------------------------------------ testing helpers and fault injection

  /**
   * Closes every client connection with `code` (default 320
   * CONNECTION_FORCED) and `text`, as `rabbitmqctl close_connection` does, to
   * test an app's reconnect path. Resolves when every socket is gone.
   */
  closeConnections(options: { code?: number; text?: string } = {}): Promise<void> {
    return this.server.closeAll(options.code ?? ReplyCode.ConnectionForced, options.text ?? replyText(ReplyCode.ConnectionForced, 'Closed via broker.closeConnections()'));
  }

  /**
   * Back to the state the broker started in, for `beforeEach`: every client
   * connection is closed (320), every queue (with its messages), exchange and
   * binding a client declared is deleted, vhosts and users created since the
   * start are deleted, the start's vhosts, users, permissions and imported
   * objects are restored, and forced memory and disk alarms are released. Resolves
   * once the connections are gone.
   */
  async reset(): Promise<void> {
    // Closing first means nothing a client sends from now on is acted on, and unacked
    // deliveries are already back in their queues when those go.
    const closed = this.server.closeAll(ReplyCode.ConnectionForced, replyText(ReplyCode.ConnectionForced, 'broker reset'));
    const restored = restoreDefinitions(this.initialDefinitions!, this.vhosts, this.admin, this.access);
    // Cleared, then back to measuring: a real alarm sets again at once, a forced one is gone
    // (going through false skips the hysteresis that keeps a measured alarm set a while).
    this.setMemoryAlarm(false);
    this.setMemoryAlarm(null);
    this.setDiskAlarm(false);
    this.setDiskAlarm(null);
    await Promise.all([closed, restored]);
  }


  /** Resolves once no message is in flight (see src/testing/when-idle.ts); rejects after `timeout` ms naming what is. */
  whenIdle(options: IdleOptions = {}): Promise<void> {
    return waitUntilIdle(brokerIdleProbe({ connections: this.server.connections, vhosts: this.vhosts }), options, this.logger);
  }

  /** `await using broker = await Broker.start()` stops the broker at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** True while the memory alarm is set (publishing connections are being blocked). */
  get memoryAlarm(): boolean {
    return this.memory.alarmed;
  }

  /**
   * Holds the memory alarm set (true) or clear (false) whatever the memory
   * use, or (null) goes back to comparing it with memoryHighWatermark. For
   * tests and operators (RabbitMQ's `rabbitmqctl set_vm_memory_high_watermark`).
   */
  setMemoryAlarm(on: boolean | null): void {
    this.memory.force(on);
  }

  /** The Prometheus endpoint's port (0 when it is off). */
  get prometheusHttpPort(): number {
    return this.prometheusPort;
  }

  /** The management API's HTTPS port (0 when it is off). */
  get managementHttpsPort(): number {
    return this.managementTlsPort;
  }

  /** The management API's port (0 when it is off). */
  get managementHttpPort(): number {
    return this.managementPort;
  }

  /** The management API's views of the open connections and their channels (byte counters, channel details). */
  connectionSnapshots(): ConnectionSnapshot[] {
    return [...this.server.connections].map((c) => c.snapshot());
  }

  get connectionsOpened(): number {
    return this.server.opened;
  }

  get connectionsClosed(): number {
    return this.server.closed;
  }

  get loginThrottle(): LoginThrottle {
    return this.server.loginThrottle;
  }

  /** Closes the named connection with 320 CONNECTION_FORCED and `reason` (as RabbitMQ's management "close connection"). */
  closeConnection(name: string, reason: string): boolean {
    for (const c of this.server.connections) {
      if (c.snapshot().name !== name) continue;
      void c.closeGracefully(ReplyCode.ConnectionForced, replyText(ReplyCode.ConnectionForced, reason));
      return true;
    }
    return false;
  }

  listeners(): Listener[] {
    const ipAddress = this.options.host === undefined || this.options.host === '0.0.0.0' ? '::' : this.options.host;
    const out: Listener[] = [];
    if (this.options.plain) out.push({ protocol: 'amqp', port: this.boundPort, ipAddress });
    if (this.options.tls) out.push({ protocol: 'amqp/ssl', port: this.boundTlsPort, ipAddress });
    if (this.managementPort) out.push({ protocol: 'http', port: this.managementPort, ipAddress });
    if (this.managementTlsPort) out.push({ protocol: 'https', port: this.managementTlsPort, ipAddress });
    if (this.prometheusPort) out.push({ protocol: 'http/prometheus', port: this.prometheusPort, ipAddress });
    return out;
  }

  async nodeFacts(): Promise<NodeFacts> {
    const [fdUsed, fdTotal, free] = await Promise.all([openFileDescriptors(), fileDescriptorLimit(), diskFree(this.options.dataDir ?? '.')]);
    return {
      memoryUsed: process.memoryUsage.rss(),
      memoryLimit: this.memory.limit,
      memoryAlarm: this.memory.alarmed,
      diskFree: free,
      diskFreeLimit: this.options.diskFreeLimit,
      diskFreeAlarm: this.disk.alarmed,
      fdUsed,
      fdTotal,
      socketsUsed: this.server.connections.size,
      uptimeMs: Date.now() - this.startedAt,
      processors: availableParallelism(),
    };
  }

  /** True while the disk alarm is set: free space is below diskFreeLimit, or the message log cannot write. */
  get diskAlarm(): boolean {
    return this.disk.alarmed;
  }

  /**
   * Holds the disk alarm set (true) or clear (false) whatever the free space,
   * or (null) goes back to measuring it against diskFreeLimit. For tests and
   * embedding (RabbitMQ's `rabbitmqctl set_disk_free_limit`).
   */
  setDiskAlarm(on: boolean | null): void {
    this.disk.force(on);
  }

  clusterView(): ClusterView | null {
    return this.clusterSource?.() ?? null;
  }

  whenDefinitionsDurable(): Promise<void> {
    const durability = this.durable?.durability;
    if (!durability) return Promise.resolve();
    return new Promise((resolve) => durability.whenDurable({ onDurable: () => resolve() }, 0, true));
  }

  /**
   * Cluster leader: streams every change of the data directory to the
   * followers, and makes confirms wait for their acks (see store/replication.ts).
   * Attach right after start() resolves, before the event loop turns.
   */
  attachReplication(replication: StoreReplication): void {
    if (!this.durable) throw new Error('replication needs a data directory');
    this.durable.log.replication = replication;
    this.durable.journal.replication = replication.sink;
  }

  /** The error the broker stopped itself on, or null. */
  get failure(): Error | null {
    return this.fatalError;
  }

  /** An error the broker cannot serve through: logged at fatal, the broker stops, onFatal is called. */
  private fail(err: Error, why: string): void {
    if (this.fatalError) return;
    this.fatalError = err;
    this.logger.fatal({ err }, why);
    this.stop()
      .catch((stopErr: unknown) => this.logger.error({ err: stopErr }, 'stopping after a fatal error failed'))
      .finally(() => this.onFatal?.(err));
  }

  /** Closes every connection with 320 CONNECTION_FORCED and stops listening. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info({ connections: this.server.connections.size }, 'Warren stopping');
      this.memory.stop();
      this.statistics.stop();
      await this.management?.close();
      await this.controlSocket?.close();
      await this.prometheus?.close();
      this.disk.stop();
      await this.server.stop();
      // Everything acked before the stop is recorded, everything confirmed is synced.
      await this.durable?.close();
      this.logger.info('Warren stopped');
    })();
    return this.stopping;
  }
}
