import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ResolvedOptions } from '../config.js';
import type { FlowSource } from '../broker/queue.js';
import type { AccessControl, UserRecord } from '../auth/access-control.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import type { Logger } from '../observe/logger.js';
import { guarded } from '../observe/guard.js';
import { setLongTimeout, type LongTimeout } from '../observe/long-timer.js';
import { AmqpError, ByteWriter, Constants, Cursor, FrameReader, MethodId, ReplyCode, decodeMethod, methodError, peekMethodId, truncateReplyText, writeMethodFrame } from '../protocol/index.js';
import type { FieldTable, FrameHandler, Method, MethodInit } from '../protocol/index.js';
import { ChannelTable } from './channel-table.js';
import type { ChannelHost, ConfirmWriter } from './channel-host.js';
import type { ConnectionInfo } from './connection-info.js';
import type { ResourceAlarms } from './resource-alarms.js';
import type { ChannelSnapshot, ConnectionSnapshot } from './snapshot.js';
import { connectionInfo, connectionSnapshot, type ConnectionFacts } from './connection-view.js';
import { Heartbeats } from './heartbeats.js';
import { Handshake, type HandshakeContext, type HandshakeHost } from './handshake.js';
import { RABBIT_STATE_NAMES, type ConnectionState } from './connection-state.js';
import { ReadGate } from './read-gate.js';
import { Outbound, type OutboundHost } from './outbound.js';
import { answerLingeringFrame, endSocket, lingerMs, type SocketLinger } from './socket-linger.js';
import { verifiedPeerName } from './tls-listener.js';

/** What a connection needs from the broker around it. */
export interface ConnectionContext extends HandshakeContext {
  /** Resource alarms in force (the server flips these; a publishing connection reads them at each frame). */
  readonly alarms: ResourceAlarms;
  /** Where a connection that sent close-ok leaves its socket to the client. */
  readonly lingering: SocketLinger;
  connectionClosed(connection: Connection): void;
}

export { INPUT_PAUSE_BACKLOG, OUTBOUND_HIGH_WATER } from './outbound.js';

let nextConnectionId = 1;

/**
 * One AMQP connection: decodes frames and dispatches them (channel 0 to the
 * Handshake, the rest to the ChannelTable's channels), connection-level
 * errors and closing, and writes (through Outbound). Heartbeats and read
 * gating are their own classes; nothing here knows about queues.
 */
export class Connection implements FrameHandler, ChannelHost, HandshakeHost, OutboundHost, ConnectionFacts {
  readonly id = nextConnectionId++;
  /** The write queue's buffer: frames encoded here go out at the next flush. */
  readonly out: ByteWriter;
  readonly peer: string;
  state: ConnectionState = 'awaiting-header';
  user: UserRecord | null = null;
  vhost: VirtualHost | null = null;
  clientProperties: FieldTable = {};
  /** The client's capabilities table from start-ok (later features read it). */
  capabilities: FieldTable = {};
  frameMax: number;
  channelMax: number;
  heartbeat = 0;

  private readonly reader: FrameReader;
  private readonly channels = new ChannelTable();
  private readonly cursor = new Cursor(Buffer.alloc(0));
  private destroyed = false;
  /** close-ok sent: resources released, the socket left to the client (frames still read, see onLingeringFrame). */
  private lingering = false;
  private heartbeats: Heartbeats | null = null;
  private closeTimer: LongTimeout | null = null;
  private closeReason: { code: number; text: string } | null = null;
  /** The client has sent basic.publish: while an alarm is set, any frame of its blocks it. */
  private publisher = false;
  /** Whether the socket is read (resource alarm, backlog, flow control). */
  readonly gate: ReadGate;
  /** Login, limits and vhost until the connection is open. */
  private readonly handshake: Handshake;
  /** Writes, batched once per tick, and the socket's backlog. */
  private readonly outbound: Outbound;
  /** Socket reads, RabbitMQ's recv_cnt (the byte counts come from the socket). */
  private recvCount = 0;
  readonly connectedAt = Date.now();

  /** Over TLS with a verified client certificate: its subject CN, the user SASL EXTERNAL logs in as. */
  readonly certificateUser: string | null;

  constructor(readonly socket: Socket, private readonly ctx: ConnectionContext) {
    this.certificateUser = socket instanceof TLSSocket ? verifiedPeerName(socket) : null;
    this.peer = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.frameMax = ctx.options.frameMax;
    this.channelMax = ctx.options.channelMax;
    this.reader = new FrameReader(this, ctx.options.frameMax);
    this.gate = new ReadGate(socket, ctx.logger, this.id);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.onSocketError(err));
    // Cleanup requeues the connection's unacked deliveries: a failure there is logged, never the end of the process.
    socket.on('close', guarded(ctx.logger, 'releasing a closed connection', { conn: this.id }, () => this.cleanup('socket closed')));
    this.outbound = new Outbound(socket, this.gate, this);
    this.out = this.outbound.out;
    this.handshake = new Handshake(this, ctx);
  }

  /** Read-only facts for the management API and metrics (see snapshot.ts). */
  snapshot(): ConnectionSnapshot {
    return connectionSnapshot(this);
  }

  get logger(): Logger {
    return this.ctx.logger;
  }

  get options(): ResolvedOptions {
    return this.ctx.options;
  }

  get accessControl(): AccessControl {
    return this.ctx.access;
  }

  // ------------------------------------------------------------------ input

  private onData(chunk: Buffer): void {
    this.ctx.alarms.inputReceived(chunk.length);
    this.recvCount++;
    try {
      this.reader.push(chunk);
    } catch (err) {
      // The framing itself is broken (501): nothing after this point can be parsed.
      this.reader.stop();
      this.fail(err);
    }
  }

  onProtocolHeader(ok: boolean, header: Buffer): void {
    this.handshake.headerReceived(ok, header);
  }

  onFrame(type: number, channelId: number, payload: Buffer): void {
    if (this.lingering) return answerLingeringFrame(this.socket, type, channelId, payload);
    // Errors in one frame's handling never escape into the reader: the stream
    // stays in sync, so a close-ok later in the same chunk is still seen.
    try {
      this.handleFrame(type, channelId, payload);
    } catch (err) {
      this.fail(err);
    }
  }

  private handleFrame(type: number, channelId: number, payload: Buffer): void {
    if (this.handshake.refusing) return; // a refused login waits out its delay: nothing more from this client counts
    if (type === Constants.FRAME_HEARTBEAT) {
      if (channelId !== 0) throw new AmqpError(ReplyCode.UnexpectedFrame, `heartbeat frame on channel ${channelId}`);
      return;
    }
    if (this.state === 'closing') {
      // After connection.close only close-ok (or a crossing close) matters.
      if (channelId === 0 && type === Constants.FRAME_METHOD) this.handshake.onClosingMethod(payload);
      return;
    }
    if (channelId === 0) {
      if (type !== Constants.FRAME_METHOD) {
        throw new AmqpError(ReplyCode.UnexpectedFrame, `expected method frame, got non method frame instead on channel 0`);
      }
      this.handshake.onConnectionMethod(this.decode(payload));
      return;
    }
    if (this.state !== 'open') {
      throw new AmqpError(ReplyCode.UnexpectedFrame, `frame of type ${type} on channel ${channelId} before the connection is open`);
    }
    const channel = this.channels.get(channelId);
    if (channel) {
      channel.onFrame(type, payload);
      // While a resource alarm is in force, a publishing connection is blocked at
      // any frame, not just at its next basic.publish: one in the middle of a
      // large body would otherwise be read to its end (RabbitMQ blocks on content
      // frames too). Consumer-only connections keep flowing.
      if (!this.publisher && type === Constants.FRAME_METHOD && peekMethodId(payload) === MethodId.BasicPublish) this.publisher = true;
      if (this.publisher && this.ctx.alarms.blocking) this.blockPublisher();
      return;
    }
    if (type !== Constants.FRAME_METHOD) throw new AmqpError(ReplyCode.ChannelError, `expected 'channel.open'`);
    const method = this.decode(payload);
    if (method.id !== MethodId.ChannelOpen) {
      // RabbitMQ reports the offending method's class/method ids with this error.
      throw methodError(ReplyCode.ChannelError, `expected 'channel.open'`, method.id);
    }
    this.ctx.admission?.checkChannel(this.user!.name);
    this.channels.open(this, channelId, this.channelMax, this.vhost!, this.user!.name);
    this.send(channelId, { id: MethodId.ChannelOpenOk, args: {} });
  }

  /** Decodes a method payload with the connection's reusable cursor. */
  decode(payload: Buffer): Method {
    const c = this.cursor;
    c.buf = payload;
    c.pos = 0;
    c.end = payload.length;
    return decodeMethod(c);
  }

  /** The client sent connection.close: answered with close-ok, and the socket is left to it. */
  clientClosed(code: number, text: string): void {
    this.send(0, { id: MethodId.ConnectionCloseOk, args: {} });
    this.logger.info({ conn: this.id, peer: this.peer, code, text }, 'client closed connection');
    this.closeReason = { code, text };
    this.closeOkSent();
  }

  /** The user's credentials were renewed (connection.update-secret). */
  recheckConsumers(): void {
    this.channels.recheckConsumers();
  }

  /** tune-ok accepted (see Handshake): the negotiated limits apply from now on. */
  tuned(channelMax: number, frameMax: number, heartbeat: number): void {
    this.frameMax = frameMax;
    this.channelMax = channelMax;
    this.heartbeat = heartbeat;
    this.reader.setFrameMax(frameMax);
    this.state = 'awaiting-open';
    if (heartbeat > 0) this.startHeartbeats(heartbeat);
  }

  // ------------------------------------------------------------------ output

  send(channel: number, method: MethodInit): void {
    if (this.destroyed) return;
    writeMethodFrame(this.out, channel, method);
    this.requestFlush();
  }

  requestFlush(): void {
    this.outbound.requestFlush();
  }

  /** A channel has confirms to send: they go out (batched with `multiple`) at the next flush. */
  confirmsPending(writer: ConfirmWriter): void {
    this.outbound.confirmsPending(writer);
  }

  /** Writes everything encoded since the last flush (see Outbound). */
  flush(): void {
    this.outbound.flush();
  }

  /** Room for more deliveries? False once the socket and the unflushed output pass the high-water mark. */
  get writable(): boolean {
    return this.outbound.writable;
  }

  /** Bytes written but not yet taken by the kernel, plus those encoded and not yet flushed. */
  get outboundBytes(): number {
    return this.outbound.outboundBytes;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  outputSent(): void {
    this.heartbeats?.sent();
  }

  // ------------------------------------------------------------------ flow control (resource alarms)

  /** True while the connection is blocked by a resource alarm (its socket is not read). */
  get blocked(): boolean {
    return this.gate.blocked;
  }

  /** True while the socket is not being read (blocked, throttled, or the client does not read its output). */
  get readingPaused(): boolean {
    return this.gate.readingPaused;
  }

  /**
   * A publisher sent a frame while a resource alarm is set: stop reading its
   * socket and, if it advertised the capability, tell it why. Frames already
   * received in the current chunk are still handled.
   */
  private blockPublisher(): void {
    if (this.gate.blocked || this.state !== 'open') return;
    const reason = this.ctx.alarms.reason;
    const notify = this.hasCapability('connection.blocked');
    if (notify) this.send(0, { id: MethodId.ConnectionBlocked, args: { reason } });
    this.logger.info({ conn: this.id, peer: this.peer, reason }, 'connection blocked: publishing during a resource alarm');
    this.gate.block(notify);
  }

  /** The resource alarm cleared: a blocked connection is told (connection.unblocked) and read again. */
  resourceAlarmCleared(): void {
    if (!this.gate.blocked) return;
    const owed = this.gate.unblock();
    if (owed && this.state === 'open') this.send(0, { id: MethodId.ConnectionUnblocked, args: {} });
    this.logger.info({ conn: this.id, peer: this.peer }, 'connection unblocked');
  }

  /**
   * Flow control: this connection published to a congested queue (or while
   * the message log is behind). Stop reading it until the source catches up
   * (see ReadGate).
   */
  throttle(source: FlowSource): void {
    if (this.destroyed) return;
    this.gate.throttle(source);
  }

  resumeDeliveries(): void {
    this.channels.resumeAll();
  }

  // ------------------------------------------------------------------ heartbeats and timers

  private startHeartbeats(seconds: number): void {
    this.heartbeats = new Heartbeats(this.socket, seconds, this.gate, () => this.out.pendingBytes, () => this.onHeartbeatTimeout(seconds), this.logger, this.id);
  }

  private onHeartbeatTimeout(seconds: number): void {
    if (this.destroyed) return;
    this.logger.warn({ conn: this.id, peer: this.peer, heartbeat: seconds }, `missed heartbeats from client, timeout: ${seconds}s`);
    this.abort('heartbeat timeout');
  }

  /** Gives up on the peer (a timeout): the socket is destroyed at once. */
  abort(why: string): void {
    this.closeReason = { code: 0, text: why };
    this.socket.destroy();
    this.cleanup(why);
  }

  // ------------------------------------------------------------------ errors and closing

  /** Any error out of frame handling: AMQP errors close the connection with their code; anything else is 541. */
  private fail(err: unknown): void {
    if (err instanceof AmqpError) {
      this.closeWithError(err);
      return;
    }
    this.logger.error({ conn: this.id, peer: this.peer, err }, 'internal error handling client input');
    this.closeWithError(new AmqpError(ReplyCode.InternalError, err instanceof Error ? err.message : String(err)));
  }

  /** Sends connection.close with the error, ignores everything but close-ok, and gives up after closeTimeout. */
  closeWithError(err: AmqpError): void {
    if (this.state === 'closing' || this.state === 'closed' || this.destroyed) return;
    this.logger.warn({ conn: this.id, peer: this.peer, code: err.replyCode, text: err.replyText, classId: err.classId, methodId: err.methodId }, 'closing connection on error');
    this.beginClose(err.replyCode, err.replyText, err.classId, err.methodId);
  }

  /** Server-initiated close (320 on shutdown). Resolves when the socket is gone. */
  closeGracefully(code: number, text: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      if (this.state !== 'open') {
        this.socket.destroy();
        return;
      }
      this.beginClose(code, text, 0, 0);
    });
  }

  private beginClose(code: number, text: string, classId: number, methodId: number): void {
    this.closeReason = { code, text };
    const handshakeDone = this.state !== 'awaiting-header';
    this.state = 'closing';
    // A blocked connection must be read again, or its close-ok would never arrive.
    this.gate.liftBlockForClose();
    this.channels.closeAll();
    if (!handshakeDone) {
      this.finish();
      return;
    }
    this.send(0, { id: MethodId.ConnectionClose, args: { replyCode: code, replyText: truncateReplyText(text), classId, methodId } });
    this.closeTimer = setLongTimeout(guarded(this.logger, 'connection close timeout', { conn: this.id }, () => this.finish()), this.ctx.options.closeTimeout, { ref: true });
  }

  /** Ends the socket without connection.close (a login refused to a client that cannot take one). */
  endWithoutClose(code: number, text: string): void {
    this.closeReason = { code, text };
    this.finish();
  }

  /** Flush what is queued, then end the socket (FIN). */
  finish(): void {
    if (this.destroyed) return;
    this.state = 'closed';
    this.reader.stop();
    this.flush();
    endSocket(this.socket);
    this.cleanup('closed');
  }

  /**
   * We answered connection.close with close-ok: flush it (and every reply
   * queued before it), release everything the connection held, and leave the
   * socket to the client (SocketLinger) — still read, so repeated closes are
   * answered and unread input never turns our eventual close into a reset.
   */
  closeOkSent(): void {
    if (this.destroyed) return;
    this.flush();
    this.lingering = true;
    this.cleanup('closed');
    this.ctx.lingering.hold(this.socket, lingerMs(this.heartbeat));
  }

  private onSocketError(err: Error): void {
    if (this.state !== 'closed') this.logger.warn({ conn: this.id, peer: this.peer, err: err.message }, 'socket error');
    this.cleanup('socket error');
  }

  /** Releases everything the connection held: unacked messages back to queues, exclusive queues deleted. */
  private cleanup(why: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.outbound.close();
    this.state = 'closed';
    if (!this.lingering) this.reader.stop();
    // Read, and discard, to the end (see ReadGate.release).
    this.gate.release();
    this.handshake.release();
    this.heartbeats?.stop();
    this.closeTimer?.clear();
    this.channels.closeAll();
    this.vhost?.ownerClosed(this);
    const reason = this.closeReason;
    this.logger.info({ conn: this.id, peer: this.peer, user: this.user?.name, vhost: this.vhost?.name, code: reason?.code, text: reason?.text, why }, 'connection closed');
    this.ctx.connectionClosed(this);
  }

  /** A channel finished closing (close-ok exchanged): its number may be reused. */
  channelClosed(id: number): void {
    this.channels.delete(id);
  }

  // ------------------------------------------------------------------ read side

  info(): ConnectionInfo {
    return connectionInfo(this);
  }

  get authMechanism(): string {
    return this.handshake.mechanism;
  }

  get receiveCount(): number {
    return this.recvCount;
  }

  get sendCount(): number {
    return this.outbound.sendCount;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  channelSnapshots(connectionName: string, peerHost: string, peerPort: number): ChannelSnapshot[] {
    return this.channels.snapshots(connectionName, peerHost, peerPort);
  }

  /** Bytes read from the client so far (whenIdle watches it: input still arriving means work to come). */
  get bytesRead(): number {
    return this.socket.bytesRead;
  }

  /**
   * Adds to `out` why this connection still has a message in flight: output
   * not yet written or not yet taken by the kernel, input paused by flow
   * control, a handshake or close in progress, or (per channel) content being
   * assembled, publishes not yet confirmed, deliveries not yet acked. A
   * connection blocked by a resource alarm waits for the alarm, not for
   * itself, and does not count.
   */
  describeInFlight(includeUnacked: boolean, out: string[]): void {
    if (this.destroyed) return;
    const who = `connection ${this.id} (${this.peer})`;
    if (this.state !== 'open') {
      out.push(`${who}: ${RABBIT_STATE_NAMES[this.state]}`);
      return;
    }
    if (this.outbound.pending) out.push(`${who}: output not yet written to the socket`);
    if (this.gate.throttled) out.push(`${who}: publisher paused by flow control`);
    const before = out.length;
    this.channels.describeInFlight(includeUnacked, out);
    for (let i = before; i < out.length; i++) out[i] = `${who} ${out[i]}`;
  }

  hasCapability(name: string): boolean {
    return this.capabilities[name] === true;
  }

  /** The connection has released everything it held. */
  get released(): boolean {
    return this.destroyed;
  }
}

export { isLoopback } from './login.js';
