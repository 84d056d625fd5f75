import { totalmem } from 'node:os';
import { parseByteSize } from './byte-size.js';
import type { Logger } from './observe/logger.js';
import type { LogFileIo } from './store/log-io.js';

/**
 * An option out of range. A RangeError (what embedders have always caught),
 * but its own class so that the CLI exits 2 for it alone: any other RangeError
 * at start-up (a stack overflow, a buffer bound) is a failure, not a usage error.
 */
export class InvalidOptionError extends RangeError {
  /** The option's key ("frameMax"), so the CLI can name the flag, variable or config key the user wrote instead. */
  readonly option: string;
  /** The message after "invalid option: <key> ": "<value> (<why>)". */
  readonly detail: string;

  /** `why` reads "<key> <value> (<why>)". */
  constructor(why: string) {
    super(`invalid option: ${why}`);
    const space = why.indexOf(' ');
    this.option = space < 0 ? why : why.slice(0, space);
    this.detail = space < 0 ? '' : why.slice(space + 1);
  }
}

export interface UserDefinition {
  name: string;
  password: string;
  /** Vhosts the user may open; default: every vhost. */
  vhosts?: string[];
  tags?: string[];
}

/** Everything `Broker.start` accepts; the CLI builds the same object from flags, env and a config file. */
export interface BrokerOptions {
  /**
   * Listen address. Default: every interface, IPv6 and IPv4 (as RabbitMQ's
   * [::] and 0.0.0.0 listeners), falling back to IPv4 alone on a machine
   * without IPv6. An explicit address (0.0.0.0, ::1, 127.0.0.1…) is used as given.
   */
  host?: string;
  /** TCP port (default 5672; 0 picks a free port, see `broker.port`). */
  port?: number;
  /** Largest frame the server accepts and offers in tune (default 131072; minimum 4096; 0 = no limit). */
  frameMax?: number;
  /** Highest channel number (default 2047; 0 = no limit, i.e. 65535). */
  channelMax?: number;
  /** Heartbeat interval offered, in seconds (default 60; 0 disables). */
  heartbeat?: number;
  /** A socket that has not opened a connection within this many ms is closed (default 10000). */
  handshakeTimeout?: number;
  /** How long to wait for close-ok after sending connection.close, in ms (default 3000). */
  closeTimeout?: number;
  /** Connections accepted at once (default unlimited). */
  maxConnections?: number;
  /** Largest message body accepted, in bytes (default 128 MiB, as RabbitMQ). */
  maxMessageSize?: number;
  /**
   * Memory high watermark (RabbitMQ's vm_memory_high_watermark): above it,
   * connections that publish are blocked (connection.blocked, socket no longer
   * read) until memory falls back. A value ≤ 1 is a fraction of the machine's
   * RAM (or of the cgroup limit, when lower); a larger value is bytes. Default 0.4.
   */
  memoryHighWatermark?: number;
  /** How often the broker's resident memory is compared with the watermark, in ms (default 250). */
  memoryCheckInterval?: number;
  /**
   * Disk free space limit (RabbitMQ's disk_free_limit): while the data
   * directory's filesystem has less free space than this, publishers are
   * blocked as for the memory alarm. Bytes, or a string with a unit ("50MB",
   * "1GB", "512MiB"). Default 50 MB.
   */
  diskFreeLimit?: number | string;
  /** How often the data directory's free space is sampled, in ms (default 1000). */
  diskCheckInterval?: number;
  /**
   * Consumer acknowledgement timeout (RabbitMQ's consumer_timeout), in ms: a
   * delivery left unacked longer than this closes its channel with 406 and its
   * messages are requeued. Default 1800000 (30 minutes); 0 disables.
   */
  consumerTimeout?: number;
  /**
   * The management HTTP API (RabbitMQ's, on --management-port): off for the
   * embedded broker unless given; `port` 0 picks a free one. It listens on `host`.
   */
  management?: { port: number; tlsPort?: number } | false;
  /** Prometheus metrics (/metrics, /metrics/per-object): off unless given. */
  prometheus?: { port: number } | false;
  /**
   * Users given here are administrators with full permissions on every vhost
   * (on their `vhosts` only, when given); they replace the default guest/guest.
   */
  users?: UserDefinition[];
  /**
   * Definitions to import at start-up, in RabbitMQ's format (`GET /api/definitions`):
   * a parsed object or the path of a JSON file.
   */
  definitions?: string | Record<string, unknown>;
  /** amqps port (default 5671, RabbitMQ's, when a certificate is configured; 0 picks a free port: see `broker.tlsPort`). */
  tlsPort?: number;
  /** PEM certificate (chain) file of the server: with `tlsKey`, turns amqps on. */
  tlsCert?: string;
  /** PEM private key file of the server. */
  tlsKey?: string;
  /** PEM CA bundle that client certificates must chain to. */
  tlsCa?: string;
  /** Ask clients for a certificate and refuse one that does not verify (RabbitMQ's verify_peer). */
  tlsVerifyPeer?: boolean;
  /** Also refuse clients without a certificate (fail_if_no_peer_cert). */
  tlsFailIfNoPeerCert?: boolean;
  /** Serve amqps only: no plain TCP listener. */
  noPlain?: boolean;
  /** Users that may only connect from loopback addresses (default ['guest'], as RabbitMQ's loopback_users). */
  loopbackUsers?: string[];
  /** Virtual hosts (default ['/']). */
  vhosts?: string[];
  /** Cluster name advertised in server-properties (default 'warren@<hostname>'). */
  clusterName?: string;
  /**
   * `product` advertised in server-properties (default 'RabbitMQ': clients such
   * as kombu choose RabbitMQ's semantics by it; see the README).
   */
  productName?: string;
  /**
   * Directory for durable state (definitions journal, message log). Without
   * one the broker keeps everything in memory. One broker per directory.
   */
  dataDir?: string;
  /** fdatasync the message log before confirming (default true; false only for tests and benchmarks). */
  fsync?: boolean;
  /** Ready messages a durable queue keeps in memory before paging the rest to disk (default 10000). */
  queueMemoryWindow?: number;
  /** Size at which message-log segment files roll over (default 8 MiB). */
  segmentSize?: number;
  /** A pino logger, or how to make one. */
  logger?: Logger;
  /**
   * Fault-injection seam for tests: the file operations the message log
   * writes and syncs with (default node:fs `writev` and `fdatasync`), so a
   * test can make writes fail (ENOSPC, EIO) without filling a disk. Only
   * used with `dataDir`; leave unset outside tests.
   */
  messageLogIo?: LogFileIo;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  logPretty?: boolean;
}

export interface ResolvedOptions {
  /** undefined: every interface, both address families (see BrokerOptions.host). */
  host: string | undefined;
  port: number;
  frameMax: number;
  channelMax: number;
  heartbeat: number;
  handshakeTimeout: number;
  closeTimeout: number;
  maxConnections: number;
  maxMessageSize: number;
  /** The watermark in bytes (a fraction given in the options is resolved against the RAM available). */
  memoryHighWatermark: number;
  memoryCheckInterval: number;
  /** Bytes. */
  diskFreeLimit: number;
  diskCheckInterval: number;
  /** 0 = disabled. */
  consumerTimeout: number;
  /** `tlsPort`: HTTPS with the AMQP TLS certificate and key (--management-tls-port). */
  management: { port: number; tlsPort: number | undefined } | null;
  prometheus: { port: number } | null;
  /** Empty when none were given (the broker then creates guest/guest on a fresh data directory). */
  users: UserDefinition[];
  definitions: string | Record<string, unknown> | undefined;
  /** The amqps listener's settings, or null without TLS. */
  tls: { port: number; cert: string; key: string; ca: string | undefined; verifyPeer: boolean; failIfNoPeerCert: boolean } | null;
  /** False with noPlain: only the TLS listener runs. */
  plain: boolean;
  loopbackUsers: string[];
  vhosts: string[];
  clusterName: string | undefined;
  productName: string;
  dataDir: string | undefined;
  fsync: boolean;
  queueMemoryWindow: number;
  segmentSize: number;
}

export const FRAME_MIN_SIZE = 4096;

export const DEFAULTS = {
  port: 5672,
  frameMax: 131072,
  channelMax: 2047,
  heartbeat: 60,
  handshakeTimeout: 10_000,
  closeTimeout: 3_000,
  maxConnections: Infinity,
  maxMessageSize: 128 * 1024 * 1024,
  memoryHighWatermark: 0.4,
  memoryCheckInterval: 250,
  diskFreeLimit: 50_000_000,
  diskCheckInterval: 1000,
  consumerTimeout: 1_800_000,
  productName: 'RabbitMQ',
} as const;

/** RAM the process may use: the machine's, or the cgroup limit when one is set and lower. */
export function availableMemory(): number {
  const total = totalmem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}

/** A watermark ≤ 1 is a fraction of the available RAM; above 1 it is an absolute number of bytes. */
export function resolveWatermark(value: number): number {
  return value <= 1 ? Math.floor(value * availableMemory()) : Math.floor(value);
}

/** Watermarks between 1 and this many bytes are refused as likely mistakes. */
export const MIN_WATERMARK_BYTES = 1024 * 1024;

export function resolveOptions(o: BrokerOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    host: o.host === '' ? undefined : o.host,
    port: o.port ?? DEFAULTS.port,
    frameMax: o.frameMax ?? DEFAULTS.frameMax,
    channelMax: o.channelMax ?? DEFAULTS.channelMax,
    heartbeat: o.heartbeat ?? DEFAULTS.heartbeat,
    handshakeTimeout: o.handshakeTimeout ?? DEFAULTS.handshakeTimeout,
    closeTimeout: o.closeTimeout ?? DEFAULTS.closeTimeout,
    maxConnections: o.maxConnections ?? DEFAULTS.maxConnections,
    maxMessageSize: o.maxMessageSize ?? DEFAULTS.maxMessageSize,
    memoryHighWatermark: 0,
    memoryCheckInterval: o.memoryCheckInterval ?? DEFAULTS.memoryCheckInterval,
    diskFreeLimit: 0,
    diskCheckInterval: o.diskCheckInterval ?? DEFAULTS.diskCheckInterval,
    consumerTimeout: o.consumerTimeout ?? DEFAULTS.consumerTimeout,
    management: o.management ? { port: o.management.port, tlsPort: o.management.tlsPort } : null,
    prometheus: o.prometheus ? { port: o.prometheus.port } : null,
    users: o.users ?? [],
    definitions: o.definitions,
    tls: o.tlsCert !== undefined || o.tlsKey !== undefined
      ? { port: o.tlsPort ?? 5671, cert: o.tlsCert ?? '', key: o.tlsKey ?? '', ca: o.tlsCa, verifyPeer: o.tlsVerifyPeer ?? false, failIfNoPeerCert: o.tlsFailIfNoPeerCert ?? false }
      : null,
    plain: !o.noPlain,
    loopbackUsers: o.loopbackUsers ?? ['guest'],
    vhosts: o.vhosts ?? ['/'],
    clusterName: o.clusterName,
    productName: o.productName ?? DEFAULTS.productName,
    dataDir: o.dataDir,
    fsync: o.fsync ?? true,
    queueMemoryWindow: o.queueMemoryWindow ?? 10_000,
    segmentSize: o.segmentSize ?? 8 * 1024 * 1024,
  };
  const bad = (why: string): never => { throw new InvalidOptionError(why); };
  if (!Number.isInteger(r.port) || r.port < 0 || r.port > 65535) bad(`port ${r.port} (0 to 65535)`);
  // Named as the CLI's flat keys (--management-port → managementPort), so its errors name the flag.
  if (r.management && (!Number.isInteger(r.management.port) || r.management.port < 0 || r.management.port > 65535)) bad(`managementPort ${r.management.port} (0 to 65535)`);
  const mtls = r.management?.tlsPort;
  if (mtls !== undefined && (!Number.isInteger(mtls) || mtls < 0 || mtls > 65535)) bad(`managementTlsPort ${mtls} (0 to 65535)`);
  if (mtls !== undefined && !r.tls) bad('tlsCert missing (managementTlsPort serves HTTPS with the TLS certificate and key)');
  if (r.prometheus && (!Number.isInteger(r.prometheus.port) || r.prometheus.port < 0 || r.prometheus.port > 65535)) bad(`prometheusPort ${r.prometheus.port} (0 to 65535)`);
  if (!Number.isInteger(r.frameMax) || (r.frameMax !== 0 && r.frameMax < FRAME_MIN_SIZE) || r.frameMax > 0xffff_ffff) bad(`frameMax ${r.frameMax} (minimum ${FRAME_MIN_SIZE}, or 0)`);
  if (!Number.isInteger(r.channelMax) || r.channelMax < 0 || r.channelMax > 65535) bad(`channelMax ${r.channelMax}`);
  if (!Number.isInteger(r.heartbeat) || r.heartbeat < 0 || r.heartbeat > 65535) bad(`heartbeat ${r.heartbeat}`);
  if (!(r.handshakeTimeout > 0)) bad(`handshakeTimeout ${r.handshakeTimeout}`);
  if (!(r.maxConnections > 0)) bad(`maxConnections ${r.maxConnections}`);
  if (!(r.maxMessageSize > 0)) bad(`maxMessageSize ${r.maxMessageSize}`);
  const watermark = o.memoryHighWatermark ?? DEFAULTS.memoryHighWatermark;
  if (!(watermark > 0) || !Number.isFinite(watermark)) bad(`memoryHighWatermark ${watermark} (a fraction of RAM ≤ 1, or bytes)`);
  // 1.5 would mean 1.5 bytes and block every publisher: a fraction or a byte count was meant.
  if (watermark > 1 && watermark < MIN_WATERMARK_BYTES) bad(`memoryHighWatermark ${watermark} (a fraction of RAM is at most 1; as bytes it must be at least ${MIN_WATERMARK_BYTES}, 1 MiB)`);
  r.memoryHighWatermark = resolveWatermark(watermark);
  if (!(r.memoryCheckInterval >= 10) || !Number.isFinite(r.memoryCheckInterval)) bad(`memoryCheckInterval ${r.memoryCheckInterval} (minimum 10 ms)`);
  const diskLimit = parseByteSize(o.diskFreeLimit ?? DEFAULTS.diskFreeLimit);
  if (diskLimit === null) bad(`diskFreeLimit ${String(o.diskFreeLimit)} (bytes, or a number with a unit: 50MB, 1GB, 512MiB)`);
  r.diskFreeLimit = diskLimit!;
  if (!(r.diskCheckInterval >= 10) || !Number.isFinite(r.diskCheckInterval)) bad(`diskCheckInterval ${r.diskCheckInterval} (minimum 10 ms)`);
  if (!(r.consumerTimeout >= 0)) bad(`consumerTimeout ${r.consumerTimeout} (ms; 0 disables)`);
  if (!Number.isInteger(r.queueMemoryWindow) || r.queueMemoryWindow < 1) bad(`queueMemoryWindow ${r.queueMemoryWindow}`);
  if (typeof r.productName !== 'string' || r.productName === '' || Buffer.byteLength(r.productName) > 255) bad(`productName '${String(r.productName)}' (1 to 255 bytes)`);
  if (!(r.segmentSize >= 64 * 1024)) bad(`segmentSize ${r.segmentSize} (minimum 65536)`);
  // Phrased "<key> <value> (<why>)" so the CLI can name the flag.
  if (r.tls && r.tls.cert === '') bad('tlsCert missing (required with tlsKey)');
  if (r.tls && r.tls.key === '') bad('tlsKey missing (required with tlsCert)');
  if (!r.tls && (o.tlsPort !== undefined || o.tlsCa !== undefined || o.tlsVerifyPeer || o.tlsFailIfNoPeerCert)) bad('tlsCert missing (TLS settings were given without a certificate and key)');
  if (r.tls && (!Number.isInteger(r.tls.port) || r.tls.port < 0 || r.tls.port > 65535)) bad(`tlsPort ${r.tls.port} (0 to 65535)`);
  if (!r.plain && !r.tls) bad('noPlain true (without a TLS certificate and key there would be no listener)');
  return r;
}
