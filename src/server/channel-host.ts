import type { ResolvedOptions } from '../config.js';
import type { AccessControl } from '../auth/access-control.js';
import type { FlowSource, Owner } from '../broker/queue.js';
import type { Logger } from '../observe/logger.js';
import type { AmqpError, ByteWriter, Method, MethodInit } from '../protocol/index.js';
import type { HeldInputGate } from './read-gate.js';

/** Something with publisher confirms to write just before the connection's next flush. */
export interface ConfirmWriter {
  writeConfirms(): void;
}

/**
 * What a Channel needs from the connection it lives on: the shared write
 * queue, the decoder, the negotiated limits and a few notifications. Channel
 * depends on this interface, not on Connection, so the two modules do not
 * import each other.
 */
export interface ChannelHost extends Owner {
  readonly id: number;
  /** The connection's write queue: frames encoded here go out at the next flush. */
  readonly out: ByteWriter;
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly accessControl: AccessControl;
  /** The negotiated frame_max (0: no limit). */
  readonly frameMax: number;
  /** Room for more deliveries (the socket is not backed up). */
  readonly writable: boolean;
  /** Decodes a method frame's payload. */
  decode(payload: Buffer): Method;
  send(channel: number, method: MethodInit): void;
  requestFlush(): void;
  /** `writer` has confirms to send: they go out at the next flush. */
  confirmsPending(writer: ConfirmWriter): void;
  /** Whether the connection is read: a channel holding frames behind a waiting reply pauses it (see DurableReplies). */
  readonly gate: HeldInputGate;
  /** Flow control: stop reading this connection until `source` catches up. */
  throttle(source: FlowSource): void;
  hasCapability(name: string): boolean;
  /** A connection error found outside the connection's own frame handling (a held frame handled later). */
  closeWithError(err: AmqpError): void;
  /** The channel finished closing: its number may be reused. */
  channelClosed(id: number): void;
}
