import type { FieldTable } from '../protocol/index.js';

/** What the read side says about one client connection (`broker.connections()`). */
export interface ConnectionInfo {
  /** The broker's own number for the connection (unique for the process's lifetime). */
  id: number;
  /** The client's address and port, "host:port". */
  peer: string;
  /** Handshake progress: 'starting' … 'running', then 'closing'. */
  state: string;
  user: string | null;
  vhost: string | null;
  /** The client's connection_name property, when it sent one. */
  name: string | null;
  /** The client's product property (e.g. "amqplib"), when it sent one. */
  clientProduct: string | null;
  /** Everything the client sent in start-ok's client-properties (capabilities included); a copy. */
  clientProperties: FieldTable;
  channels: number;
  /** Blocked by a resource alarm (connection.blocked). */
  blocked: boolean;
  /** Its input is not being read: blocked by an alarm, throttled by a congested queue, or not reading its own replies. */
  readingPaused: boolean;
  /** Bytes for the client not yet taken by its socket (encoded and not flushed, plus the socket's buffer). */
  outboundBytes: number;
  heartbeat: number;
  frameMax: number;
  channelMax: number;
  /** Bytes read from the client and written to it so far (RabbitMQ's recv_oct / send_oct). */
  bytesReceived: number;
  bytesSent: number;
}
