import { decodeContentProperties, deliveryMode, encodeContentHeader, propertyFlags, PropertyFlag, type BasicProperties } from '../protocol/index.js';
import { parseExpiration } from './queue-arguments.js';
import type { StoredLocation } from '../store/queue-storage.js';

/** Message.ttl not yet parsed. */
const NOT_PARSED = -1;

/**
 * A published message as the broker holds it: the raw content-header bytes
 * and the body chunks exactly as received, shared by every queue it was
 * routed to. Properties are decoded only when something asks for them.
 */
export class Message {
  private decoded: BasicProperties | undefined;
  /** The expiration property parsed (NOT_PARSED until asked; undefined: none). */
  private parsedTtl: number | undefined = NOT_PARSED;
  /**
   * The BCC routing keys of the publish, kept after the BCC header is stripped:
   * RabbitMQ's routing keys include them, and a message dead-lettered without a
   * dead-letter routing key is routed with all of them again. (In memory only.)
   */
  bccKeys: readonly string[] | null = null;
  /**
   * The first property-flags word, read once: the hot path asks several times
   * per publish which properties are present (user-id, reply-to, expiration,
   * headers, delivery-mode), and the header bytes never change.
   */
  readonly flags: number;

  constructor(
    /** The exchange it was published to. */
    readonly exchange: string,
    readonly routingKey: string,
    /** Content header payload: class-id, weight, body-size, property flags, properties. */
    readonly header: Buffer,
    /** Body bytes, as one buffer or the chunks they arrived in (never copied). */
    readonly body: Buffer | Buffer[],
    readonly bodySize: number,
  ) {
    this.flags = propertyFlags(header);
  }

  get properties(): BasicProperties {
    return (this.decoded ??= decodeContentProperties(this.header));
  }

  /** delivery_mode = 2, read straight from the header bytes (no decode on the hot path). */
  get persistent(): boolean {
    return (this.flags & PropertyFlag.DeliveryMode) !== 0 && deliveryMode(this.header) === 2;
  }

  /** Whether property `flag` (a PropertyFlag) is set, read from the header bytes (no decode). */
  hasProperty(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  /**
   * The message's own TTL in ms from its expiration property, parsed once
   * (undefined: no expiration). An invalid one throws RabbitMQ's 406 (and is
   * not cached: publishing it fails).
   */
  get ttl(): number | undefined {
    if (this.parsedTtl !== NOT_PARSED) return this.parsedTtl;
    const expiration = (this.flags & PropertyFlag.Expiration) !== 0 ? this.properties.expiration : undefined;
    return (this.parsedTtl = expiration === undefined ? undefined : parseExpiration(expiration));
  }

  /** The same body with rewritten properties (dead-lettering, reply-to, BCC): a new header, the body shared. */
  withProperties(properties: BasicProperties, exchange = this.exchange, routingKey = this.routingKey): Message {
    const m = new Message(exchange, routingKey, encodeContentHeader(this.bodySize, properties), this.body, this.bodySize);
    m.decoded = properties;
    m.bccKeys = this.bccKeys;
    return m;
  }
}

/** One message's place in one queue. */
export interface QueueEntry {
  /** Position in the queue: requeued messages go back in seq order. */
  readonly seq: number;
  readonly message: Message;
  redelivered: boolean;
  /**
   * The message log's record of this message that this queue holds a reference
   * to (ack it there when done); null: none. Compaction moves it.
   */
  record: StoredLocation | null;
  /** When the message expires in this queue (ms since the epoch), 0 for never. */
  readonly expiresAt: number;
  /** Priority level in a priority queue (0 elsewhere). */
  readonly priority: number;
  /** Deliveries that ended without an ack (quorum queues count them for x-delivery-limit). */
  returns: number;
}
