import type { Session } from '../broker/session.js';
import type { FieldTable } from '../protocol/index.js';
import type { MessageStats } from '../observe/stats.js';

/**
 * Read-only views of connections and channels for the management API, the
 * metrics and tests. Taken on demand (never on the hot path); they copy the
 * few facts they show and hold no reference that lets a reader change state.
 */
export interface ConnectionSnapshot {
  /** Broker-wide connection number. */
  readonly id: number;
  /** RabbitMQ's name: "peerhost:peerport -> host:port". */
  readonly name: string;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly host: string;
  readonly port: number;
  /** null until the client has authenticated. */
  readonly user: string | null;
  readonly vhost: string | null;
  /** RabbitMQ's states: starting, tuning, opening, running, blocked, closing, closed. */
  readonly state: string;
  readonly authMechanism: string;
  /** The TLS session (amqps connections), as RabbitMQ's ssl_* and peer_cert_* fields; null over plain TCP. */
  readonly tls: TlsSnapshot | null;
  readonly clientProperties: FieldTable;
  /** ms since the epoch. */
  readonly connectedAt: number;
  readonly heartbeat: number;
  readonly frameMax: number;
  readonly channelMax: number;
  readonly recvOct: number;
  readonly sendOct: number;
  readonly recvCnt: number;
  readonly sendCnt: number;
  /** Bytes written but not yet taken by the kernel. */
  readonly sendPend: number;
  readonly channels: readonly ChannelSnapshot[];
}

export interface ChannelSnapshot {
  readonly number: number;
  /** RabbitMQ's name: "<connection name> (<number>)". */
  readonly name: string;
  readonly connectionName: string;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly user: string;
  readonly vhost: string;
  readonly state: string;
  readonly prefetchCount: number;
  readonly globalPrefetchCount: number;
  readonly unacked: number;
  readonly unconfirmed: number;
  readonly confirm: boolean;
  readonly transactional: boolean;
  readonly uncommittedMessages: number;
  readonly uncommittedAcks: number;
  readonly consumers: readonly ConsumerSnapshot[];
  /** The channel's live counters (read them, never write). */
  readonly messageStats: MessageStats;
}

export interface ConsumerSnapshot {
  readonly tag: string;
  readonly queue: string;
  readonly vhost: string;
  readonly ackRequired: boolean;
  readonly exclusive: boolean;
  readonly prefetchCount: number;
  readonly arguments: FieldTable;
  readonly priority: number;
}

/** The consumer facts of a session (for channel snapshots). */
export function consumersOf(session: Session): ConsumerSnapshot[] {
  const out: ConsumerSnapshot[] = [];
  for (const c of session.consumers.values()) {
    out.push({
      tag: c.tag,
      queue: c.queue.name,
      vhost: session.vhost.name,
      ackRequired: !c.noAck,
      exclusive: c.exclusive,
      prefetchCount: c.prefetch,
      arguments: c.args,
      priority: c.priority,
    });
  }
  return out;
}

export interface TlsSnapshot {
  /** 'tlsv1.3' / 'tlsv1.2', as RabbitMQ names them. */
  readonly protocol: string;
  readonly cipher: string;
  /** The client certificate's subject and issuer ("CN=…,O=…"), and validity, or null without one. */
  readonly peerCertSubject: string | null;
  readonly peerCertIssuer: string | null;
  readonly peerCertValidity: string | null;
}
