import { UserRegistry } from './broker/users.js';
import { VirtualHost } from './broker/virtual-host.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './config.js';
import { createLogger, type Logger } from './observe/logger.js';
import { Server } from './server/server.js';
import { MemoryAlarm } from './server/memory-alarm.js';
import { DurableState } from './broker/durability.js';
import { serverProperties } from './server/server-properties.js';
import { VERSION } from './version.js';

/**
 * An embeddable Warren broker: `const broker = await Broker.start({ port: 0 })`,
 * then `broker.port`, and `await broker.stop()`. The CLI runs the same code.
 */
export class Broker {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly vhosts = new Map<string, VirtualHost>();
  readonly users = new UserRegistry();
  private readonly server: Server;
  private boundPort = 0;
  private boundHost = '';
  private stopping: Promise<void> | null = null;
  private durable: DurableState | null = null;
  private readonly memory: MemoryAlarm;

  private constructor(options: BrokerOptions) {
    this.options = resolveOptions(options);
    this.logger = options.logger ?? createLogger({ level: options.logLevel ?? 'info', pretty: options.logPretty });
    for (const name of this.options.vhosts) this.vhosts.set(name, new VirtualHost(name));
    for (const u of this.options.users) this.users.add(u.name, u.password, u.vhosts ?? null, u.tags ?? []);
    this.server = new Server({
      options: this.options,
      users: this.users,
      vhosts: this.vhosts,
      logger: this.logger,
      serverProperties: serverProperties(this.options.clusterName),
    });
    this.memory = new MemoryAlarm(this.options.memoryHighWatermark, this.options.memoryCheckInterval, (on, used, limit) => {
      // RabbitMQ's wording: "memory resource limit alarm set on node ... Publishers will be blocked until this alarm clears".
      if (on) this.logger.warn({ used, limit }, 'memory resource limit alarm set: publishers will be blocked until this alarm clears');
      else this.logger.info({ used, limit }, 'memory resource limit alarm cleared');
      this.server.setMemoryAlarm(on);
    });
  }

  /** Starts a broker and resolves once it is listening. */
  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const broker = new Broker(options);
    const o = broker.options;
    if (o.dataDir !== undefined) {
      broker.durable = DurableState.open(broker.vhosts, {
        dataDir: o.dataDir,
        fsync: o.fsync,
        queueMemoryWindow: o.queueMemoryWindow,
        segmentSize: o.segmentSize,
        logger: broker.logger,
      });
      broker.durable.log.onFailure = (err) => {
        broker.logger.fatal({ err }, 'message store failed; stopping the broker');
        void broker.stop();
      };
    }
    let address;
    try {
      address = await broker.server.listen(o.port, o.host);
    } catch (err) {
      await broker.durable?.close();
      throw err;
    }
    broker.memory.start();
    broker.boundPort = address.port;
    broker.boundHost = address.address;
    broker.logger.info({ host: address.address, port: address.port, version: VERSION }, 'Warren listening');
    return broker;
  }

  /** The port actually listened on (useful with port 0). */
  get port(): number {
    return this.boundPort;
  }

  get host(): string {
    return this.boundHost;
  }

  /** An AMQP URL for this broker on loopback, with the given credentials. */
  url(user = 'guest', password = 'guest'): string {
    return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.boundPort}`;
  }

  get connectionCount(): number {
    return this.server.connections.size;
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

  /** Closes every connection with 320 CONNECTION_FORCED and stops listening. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info({ connections: this.server.connections.size }, 'Warren stopping');
      this.memory.stop();
      await this.server.stop();
      // Everything acked before the stop is recorded, everything confirmed is synced.
      await this.durable?.close();
      this.logger.info('Warren stopped');
    })();
    return this.stopping;
  }
}
