import { decodeContentProperties, type BasicProperties } from '../protocol/index.js';

/**
 * A published message as the broker holds it: the raw content-header bytes
 * and the body chunks exactly as received, shared by every queue it was
 * routed to. Properties are decoded only when something asks for them.
 */
export class Message {
  private decoded: BasicProperties | undefined;

  constructor(
    /** The exchange it was published to. */
    readonly exchange: string,
    readonly routingKey: string,
    /** Content header payload: class-id, weight, body-size, property flags, properties. */
    readonly header: Buffer,
    /** Body bytes, as one buffer or the chunks they arrived in (never copied). */
    readonly body: Buffer | Buffer[],
    readonly bodySize: number,
  ) {}

  get properties(): BasicProperties {
    return (this.decoded ??= decodeContentProperties(this.header));
  }

  /** The body as one Buffer (concatenates chunked bodies: for tests and rare paths only). */
  bodyBuffer(): Buffer {
    return Buffer.isBuffer(this.body) ? this.body : Buffer.concat(this.body, this.bodySize);
  }
}

/** One message's place in one queue. */
export interface QueueEntry {
  /** Position in the queue: requeued messages go back in seq order. */
  readonly seq: number;
  readonly message: Message;
  redelivered: boolean;
}
