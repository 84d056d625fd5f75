import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ResolvedOptions } from '../config.js';
import type { FlowSource } from '../broker/queue.js';
import type { AccessControl, UserRecord } from '../auth/access-control.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import type { Logger } from '../observe/logger.js';
import { guarded } from '../observe/guard.js';
import { setLongTimeout, type LongTimeout } from '../observe/long-timer.js';
import {
  AmqpError,
  ByteWriter,
  Constants,
  Cursor,
  FRAME_OVERHEAD,
  FrameReader,
  MethodId,
  PROTOCOL_HEADER,
  ReplyCode,
  truncateReplyText,
  decodeMethod,
  methodError,
  writeMethodFrame,
  type FieldTable,
  type FrameHandler,
  type Method,
  type MethodInit,
} from '../protocol/index.js';
import { FRAME_MIN_SIZE } from '../config.js';
import { Channel } from './channel.js';
import type { ChannelHost, ConfirmWriter } from './channel-host.js';
import type { ConnectionInfo } from './connection-info.js';
import { copyTable } from '../broker/snapshots.js';
import { scheduleFlush, type Flushable } from './flush-scheduler.js';
import type { ResourceAlarms } from './resource-alarms.js';
import { authenticate, offeredMechanisms, truncateForLog } from './login.js';
import type { ConnectionSnapshot } from './snapshot.js';
import { Heartbeats } from './heartbeats.js';
import { ReadGate } from './read-gate.js';
import { CONNECTION_CLOSE_OK_FRAME, endSocket, lingerMs, type SocketLinger } from './socket-linger.js';
import { tlsSnapshot, verifiedPeerName } from './tls-listener.js';
import type { LoginThrottle } from './login-throttle.js';

/** What a connection needs from the broker around it. */
export interface ConnectionContext {
  readonly options: ResolvedOptions;
  readonly access: AccessControl;
  readonly vhosts: ReadonlyMap<string, VirtualHost>;
  readonly logger: Logger;
  readonly serverProperties: FieldTable;
  /** Resource alarms in force (the server flips these; a publishing connection reads them at each frame). */
  readonly alarms: ResourceAlarms;
  /** Where a connection that sent close-ok leaves its socket to the client. */
  readonly lingering: SocketLinger;
  /** Failed logins per client address (refusals delayed under brute force); none: never delayed. */
  readonly loginThrottle?: LoginThrottle;
  connectionClosed(connection: Connection): void;
}

type State = 'awaiting-header' | 'awaiting-start-ok' | 'awaiting-tune-ok' | 'awaiting-open' | 'open' | 'closing' | 'closed';


/** Outbound bytes (socket buffer + not yet flushed) above which deliveries pause until the socket drains. */
export const OUTBOUND_HIGH_WATER = 512 * 1024;
/**
 * Unsent bytes in the socket buffer above which the client's input is no
 * longer read until the buffer drains. Deliveries stop at OUTBOUND_HIGH_WATER,
 * so only replies can pile up this far (a client sending basic.get or declares
 * without reading the answers): not reading its requests bounds them.
 */
export const INPUT_PAUSE_BACKLOG = 4 * 1024 * 1024;

let nextConnectionId = 1;

/** RabbitMQ's names for the handshake states, used in its error texts. */
const RABBIT_STATE_NAMES: Record<State, string> = {
  'awaiting-header': 'handshake',
  'awaiting-start-ok': 'starting',
  'awaiting-tune-ok': 'tuning',
  'awaiting-open': 'opening',
  open: 'running',
  closing: 'closing',
  closed: 'closed',
};

/**
 * One AMQP connection: the handshake on channel 0, heartbeats, the channel
 * table, connection-level errors, and the batched write path. Frames are
 * decoded here and handed to channels; nothing here knows about queues.
 */
export class Connection implements FrameHandler, Flushable, ChannelHost {
  readonly id = nextConnectionId++;
  readonly out = new ByteWriter();
  readonly peer: string;
  state: State = 'awaiting-header';
  user: UserRecord | null = null;
  vhost: VirtualHost | null = null;
  clientProperties: FieldTable = {};
  /** The client's capabilities table from start-ok (later features read it). */
  capabilities: FieldTable = {};
  frameMax: number;
  channelMax: number;
  heartbeat = 0;

  private readonly reader: FrameReader;
  private readonly channels = new Map<number, Channel>();
  private readonly cursor = new Cursor(Buffer.alloc(0));
  private flushScheduled = false;
  /** A consumer found the socket backed up: resume deliveries once it drains. */
  private stalled = false;
  private waitingForDrain = false;
  private destroyed = false;
  /** close-ok sent: resources released, the socket left to the client (frames still read, see onLingeringFrame). */
  private lingering = false;
  private handshakeTimer: LongTimeout | null;
  private heartbeats: Heartbeats | null = null;
  private closeTimer: LongTimeout | null = null;
  private closeReason: { code: number; text: string } | null = null;
  private mechanism = '';
  /** Channels with publisher confirms to send at the next flush. */
  private readonly confirmPending: ConfirmWriter[] = [];
  /** The client has sent basic.publish: while an alarm is set, any frame of its blocks it. */
  private publisher = false;
  /** Whether the socket is read (resource alarm, backlog, flow control). */
  private readonly gate: ReadGate;
  /** Socket reads and (corked) writes, RabbitMQ's recv_cnt / send_cnt; the byte counts come from the socket. */
  private recvCount = 0;
  private sendCount = 0;
  readonly connectedAt = Date.now();

  /** A refused login's answer is being delayed (brute-force damping): input is ignored. */
  private refusing = false;
  private refusalTimer: NodeJS.Timeout | null = null;

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
    socket.on('close', () => this.cleanup('socket closed'));
    socket.on('drain', () => this.onDrain());
    // Timers run outside any frame's handling: a failure in one is logged, not a crash.
    this.handshakeTimer = setLongTimeout(guarded(ctx.logger, 'AMQP handshake timeout', { peer: this.peer }, () => this.onHandshakeTimeout()), ctx.options.handshakeTimeout, { ref: true });
  }

  /** Read-only facts for the management API and metrics (see snapshot.ts). */
  snapshot(): ConnectionSnapshot {
    const s = this.socket;
    const peerHost = s.remoteAddress ?? '';
    const peerPort = s.remotePort ?? 0;
    const name = `${peerHost}:${peerPort} -> ${s.localAddress ?? ''}:${s.localPort ?? 0}`;
    const state = this.state === 'open' ? (this.gate.blocked ? 'blocked' : 'running') : RABBIT_STATE_NAMES[this.state];
    return {
      id: this.id,
      name,
      peerHost,
      peerPort,
      host: s.localAddress ?? '',
      port: s.localPort ?? 0,
      user: this.user?.name ?? null,
      vhost: this.vhost?.name ?? null,
      state: state === 'handshake' ? 'starting' : state,
      authMechanism: this.mechanism,
      tls: s instanceof TLSSocket ? tlsSnapshot(s) : null,
      clientProperties: this.clientProperties,
      connectedAt: this.connectedAt,
      heartbeat: this.heartbeat,
      frameMax: this.frameMax,
      channelMax: this.channelMax,
      recvOct: s.bytesRead,
      sendOct: s.bytesWritten,
      recvCnt: this.recvCount,
      sendCnt: this.sendCount,
      sendPend: s.writableLength,
      channels: [...this.channels.values()].map((ch) => ch.snapshot(name, peerHost, peerPort)),
    };
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
    if (!ok) {
      // As the spec says: answer with the header we do speak, then close.
      this.logger.warn({ peer: this.peer, header: header.toString('hex') }, 'unsupported protocol header; closing');
      this.socket.end(PROTOCOL_HEADER);
      this.state = 'closed';
      return;
    }
    this.state = 'awaiting-start-ok';
    this.send(0, {
      id: MethodId.ConnectionStart,
      args: {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: this.ctx.serverProperties,
        mechanisms: offeredMechanisms(this.certificateUser),
        locales: 'en_US',
      },
    });
  }

  onFrame(type: number, channelId: number, payload: Buffer): void {
    if (this.lingering) return this.onLingeringFrame(type, channelId, payload);
    // Errors in one frame's handling never escape into the reader: the stream
    // stays in sync, so a close-ok later in the same chunk is still seen.
    try {
      this.handleFrame(type, channelId, payload);
    } catch (err) {
      this.fail(err);
    }
  }

  private handleFrame(type: number, channelId: number, payload: Buffer): void {
    if (this.refusing) return; // a refused login waits out its delay: nothing more from this client counts
    if (type === Constants.FRAME_HEARTBEAT) {
      if (channelId !== 0) throw new AmqpError(ReplyCode.UnexpectedFrame, `heartbeat frame on channel ${channelId}`);
      return;
    }
    if (this.state === 'closing') {
      // After connection.close only close-ok (or a crossing close) matters.
      if (channelId === 0 && type === Constants.FRAME_METHOD) this.onClosingMethod(payload);
      return;
    }
    if (channelId === 0) {
      if (type !== Constants.FRAME_METHOD) {
        throw new AmqpError(ReplyCode.UnexpectedFrame, `expected method frame, got non method frame instead on channel 0`);
      }
      this.onConnectionMethod(this.decode(payload));
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
      if (!this.publisher && type === Constants.FRAME_METHOD && payload.length >= 4 && payload.readUInt32BE(0) === MethodId.BasicPublish) this.publisher = true;
      if (this.publisher && this.ctx.alarms.blocking) this.blockPublisher();
      return;
    }
    if (type !== Constants.FRAME_METHOD) throw new AmqpError(ReplyCode.ChannelError, `expected 'channel.open'`);
    const method = this.decode(payload);
    if (method.id !== MethodId.ChannelOpen) {
      // RabbitMQ reports the offending method's class/method ids with this error.
      throw methodError(ReplyCode.ChannelError, `expected 'channel.open'`, method.id);
    }
    // Channel numbers run 1..channel_max (the rule). RabbitMQ itself counts open
    // channels instead (530 "number of channels opened ... has reached the negotiated
    // channel_max"); with numbers bounded by channel_max the count never exceeds it either.
    if (channelId > this.effectiveChannelMax) {
      throw methodError(ReplyCode.ChannelError, `channel number ${channelId} exceeds the negotiated channel_max ${this.effectiveChannelMax}`, MethodId.ChannelOpen);
    }
    const opened = new Channel(this, channelId, this.vhost!, this.user!.name);
    this.channels.set(channelId, opened);
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

  private get effectiveChannelMax(): number {
    return this.channelMax === 0 ? 65535 : this.channelMax;
  }

  private onConnectionMethod(method: Method): void {
    switch (method.id) {
      case MethodId.ConnectionStartOk:
        if (this.state !== 'awaiting-start-ok') break;
        return this.onStartOk(method.args.clientProperties, method.args.mechanism, method.args.response);
      case MethodId.ConnectionTuneOk:
        if (this.state !== 'awaiting-tune-ok') break;
        return this.onTuneOk(method.args.channelMax, method.args.frameMax, method.args.heartbeat);
      case MethodId.ConnectionOpen:
        if (this.state !== 'awaiting-open') break;
        return this.onOpen(method.args.virtualHost);
      case MethodId.ConnectionClose:
        this.send(0, { id: MethodId.ConnectionCloseOk, args: {} });
        this.logger.info({ conn: this.id, peer: this.peer, code: method.args.replyCode, text: method.args.replyText }, 'client closed connection');
        this.closeReason = { code: method.args.replyCode, text: method.args.replyText };
        this.closeOkSent();
        return;
      case MethodId.ConnectionCloseOk:
        return;
      case MethodId.ConnectionUpdateSecret:
        if (this.state !== 'open') break;
        // Token rotation. Warren's users all live in its internal database, and RabbitMQ's
        // internal backend accepts any new secret for them (the secret only matters to token
        // backends, e.g. OAuth 2): clients' own test suites (amqplib, pika) send arbitrary ones.
        this.logger.info({ conn: this.id, peer: this.peer, user: this.user!.name, reason: method.args.reason }, 'user updated secret');
        this.send(0, { id: MethodId.ConnectionUpdateSecretOk, args: {} });
        for (const ch of this.channels.values()) ch.recheckConsumers();
        return;
      case MethodId.ConnectionBlocked:
      case MethodId.ConnectionUnblocked:
        return; // a client telling us it is blocked: nothing to do
      default:
    }
    throw methodError(ReplyCode.ChannelError, `unexpected method in connection state ${RABBIT_STATE_NAMES[this.state]}`, method.id);
  }

  private onStartOk(clientProperties: FieldTable, mechanism: string, response: Buffer): void {
    this.clientProperties = clientProperties;
    const caps = clientProperties['capabilities'];
    this.capabilities = caps && typeof caps === 'object' && !Array.isArray(caps) && !Buffer.isBuffer(caps) && !(caps instanceof Date) ? (caps as FieldTable) : {};
    this.mechanism = mechanism;
    const { user, username } = authenticate(this.ctx.access, mechanism, response, this.certificateUser);
    if (!user) return this.refuseLogin(`Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`, username);
    if (this.ctx.options.loopbackUsers.includes(user.name) && !isLoopback(this.socket.remoteAddress)) {
      return this.refuseLogin(`user '${user.name}' can only connect via localhost`, user.name);
    }
    this.ctx.loginThrottle?.succeeded(this.socket.remoteAddress ?? '?');
    this.user = user;
    this.state = 'awaiting-tune-ok';
    this.send(0, {
      id: MethodId.ConnectionTune,
      args: { channelMax: this.ctx.options.channelMax, frameMax: this.ctx.options.frameMax, heartbeat: this.ctx.options.heartbeat },
    });
  }

  /** Authentication failed: 403 via connection.close for clients that understand it, else just close (as RabbitMQ). */
  private refuseLogin(text: string, username: string | undefined): void {
    const failure = this.ctx.loginThrottle?.failed(this.socket.remoteAddress ?? '?');
    if (!failure || failure.log) {
      const repeated = failure && failure.failures > 1 ? { failuresFromAddress: failure.failures, notLoggedSinceLastLine: failure.unlogged, delayMs: failure.delayMs } : {};
      this.logger.warn({ conn: this.id, peer: this.peer, user: username && truncateForLog(username), mechanism: this.mechanism, ...repeated }, `authentication failed: ${truncateForLog(text)}`);
    }
    if (!failure || failure.delayMs === 0) return this.sendLoginRefusal(text);
    // Repeated failures from this address: answer later, reading nothing from it meanwhile.
    this.refusing = true;
    this.socket.pause();
    this.refusalTimer = setTimeout(() => {
      this.refusalTimer = null;
      if (this.destroyed) return;
      this.refusing = false;
      this.socket.resume();
      this.sendLoginRefusal(text);
    }, failure.delayMs);
  }

  private sendLoginRefusal(text: string): void {
    if (this.capabilities['authentication_failure_close'] === true) {
      // As RabbitMQ (rabbit_reader:auth_fail): the client only ever gets this generic text, whatever
      // the reason (wrong password, or a loopback-only user from afar); the detail goes to the log.
      const safe = `Login was refused using authentication mechanism ${this.mechanism}. For details see the broker logfile.`;
      this.closeWithError(new AmqpError(ReplyCode.AccessRefused, safe));
    } else {
      this.closeReason = { code: ReplyCode.AccessRefused, text };
      this.finish();
    }
  }

  private onTuneOk(channelMax: number, frameMax: number, heartbeat: number): void {
    const serverFrameMax = this.ctx.options.frameMax;
    const serverChannelMax = this.ctx.options.channelMax;
    // RabbitMQ's texts (rabbit_reader:fail_negotiation), reported against connection.tune as it does.
    if (frameMax !== 0 && frameMax < FRAME_MIN_SIZE) {
      throw methodError(ReplyCode.NotAllowed, `negotiated frame_max = ${frameMax} is lower than the minimum allowed value (${FRAME_MIN_SIZE})`, MethodId.ConnectionTune);
    }
    if (serverFrameMax !== 0 && (frameMax === 0 || frameMax > serverFrameMax)) {
      throw methodError(ReplyCode.NotAllowed, `negotiated frame_max = ${frameMax} is higher than the maximum allowed value (${serverFrameMax})`, MethodId.ConnectionTune);
    }
    if (serverChannelMax !== 0 && (channelMax === 0 || channelMax > serverChannelMax)) {
      const detail = channelMax === 0 ? ' (no limit)' : '';
      throw methodError(ReplyCode.NotAllowed, `negotiated channel_max = ${channelMax}${detail} is higher than the maximum allowed value (${serverChannelMax})`, MethodId.ConnectionTune);
    }
    this.frameMax = frameMax;
    this.channelMax = channelMax;
    this.heartbeat = heartbeat;
    this.reader.setFrameMax(frameMax);
    this.state = 'awaiting-open';
    if (heartbeat > 0) this.startHeartbeats(heartbeat);
  }

  private onOpen(vhostName: string): void {
    const vhost = this.ctx.vhosts.get(vhostName);
    if (!vhost) throw methodError(ReplyCode.NotAllowed, `vhost ${vhostName} not found`, MethodId.ConnectionOpen);
    if (!this.ctx.access.mayOpen(this.user!.name, vhostName)) {
      throw methodError(ReplyCode.NotAllowed, `access to vhost '${vhostName}' refused for user '${this.user!.name}'`, MethodId.ConnectionOpen);
    }
    this.vhost = vhost;
    this.state = 'open';
    this.clearHandshakeTimer();
    this.send(0, { id: MethodId.ConnectionOpenOk, args: {} });
    this.logger.info({ conn: this.id, peer: this.peer, user: this.user!.name, vhost: vhostName }, 'connection opened');
  }

  private onClosingMethod(payload: Buffer): void {
    let method: Method;
    try {
      method = this.decode(payload);
    } catch {
      return;
    }
    if (method.id === MethodId.ConnectionCloseOk) this.finish();
    else if (method.id === MethodId.ConnectionClose) {
      // Crossing closes: answered, and (close-ok sent) the socket is the client's to close.
      this.send(0, { id: MethodId.ConnectionCloseOk, args: {} });
      this.closeOkSent();
    }
  }

  /**
   * After our close-ok, as RabbitMQ: a repeated connection.close is answered
   * with close-ok again (several threads of one client may each have sent
   * one), the client's close-ok for a close of ours ends the socket (its
   * receiver closes, says the spec), and everything else is discarded.
   * Only the class and method ids are read: nothing else is decoded.
   */
  private onLingeringFrame(type: number, channelId: number, payload: Buffer): void {
    if (type !== Constants.FRAME_METHOD || channelId !== 0 || payload.length < 4) return;
    const ids = payload.readUInt32BE(0);
    if (ids === MethodId.ConnectionClose) {
      if (this.socket.writable) this.socket.write(CONNECTION_CLOSE_OK_FRAME);
    } else if (ids === MethodId.ConnectionCloseOk) endSocket(this.socket);
  }

  // ------------------------------------------------------------------ output

  send(channel: number, method: MethodInit): void {
    if (this.destroyed) return;
    writeMethodFrame(this.out, channel, method);
    this.requestFlush();
  }

  requestFlush(): void {
    if (this.flushScheduled || this.destroyed) return;
    this.flushScheduled = true;
    scheduleFlush(this);
  }

  /** A channel has confirms to send: they go out (batched with `multiple`) at the next flush. */
  confirmsPending(writer: ConfirmWriter): void {
    this.confirmPending.push(writer);
    this.requestFlush();
  }

  /** Writes everything encoded since the last flush in one corked batch (one writev). */
  flush(): void {
    this.flushScheduled = false;
    if (this.destroyed) return;
    if (this.confirmPending.length > 0) {
      for (const ch of this.confirmPending) ch.writeConfirms();
      this.confirmPending.length = 0;
    }
    const chunks = this.out.drain();
    if (chunks.length === 0) return;
    const s = this.socket;
    this.heartbeats?.sent();
    this.sendCount++;
    if (chunks.length === 1) s.write(chunks[0]!);
    else {
      s.cork();
      for (let i = 0; i < chunks.length; i++) s.write(chunks[i]!);
      s.uncork();
    }
    if (s.writableLength >= OUTBOUND_HIGH_WATER) {
      this.waitingForDrain = true;
      if (s.writableLength >= INPUT_PAUSE_BACKLOG && !this.gate.backlogged && this.state === 'open') {
        this.logger.info({ conn: this.id, peer: this.peer, buffered: s.writableLength }, 'client is not reading its socket: input paused until the output drains');
        this.gate.setBacklogged(true);
      }
    } else if (this.stalled) this.resumeDeliveries();
  }

  /** Room for more deliveries? False once the socket and the unflushed output pass the high-water mark. */
  get writable(): boolean {
    if (this.destroyed) return false;
    if (this.waitingForDrain || this.socket.writableLength + this.out.pendingBytes >= OUTBOUND_HIGH_WATER) {
      if (!this.stalled) this.logger.debug({ conn: this.id, peer: this.peer, buffered: this.outboundBytes }, 'client socket backed up: deliveries paused until it drains');
      this.stalled = true;
      return false;
    }
    return true;
  }

  /** Bytes written but not yet taken by the kernel, plus those encoded and not yet flushed. */
  get outboundBytes(): number {
    return this.socket.writableLength + this.out.pendingBytes;
  }

  private onDrain(): void {
    this.waitingForDrain = false;
    this.gate.setBacklogged(false);
    if (this.stalled) this.resumeDeliveries();
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

  private resumeDeliveries(): void {
    this.stalled = false;
    for (const ch of this.channels.values()) ch.resume();
  }

  // ------------------------------------------------------------------ heartbeats and timers

  private startHeartbeats(seconds: number): void {
    this.heartbeats = new Heartbeats(this.socket, seconds, this.gate, () => this.out.pendingBytes, () => this.onHeartbeatTimeout(seconds), this.logger, this.id);
  }

  private onHeartbeatTimeout(seconds: number): void {
    if (this.destroyed) return;
    this.logger.warn({ conn: this.id, peer: this.peer, heartbeat: seconds }, `missed heartbeats from client, timeout: ${seconds}s`);
    this.closeReason = { code: 0, text: 'heartbeat timeout' };
    this.socket.destroy();
    this.cleanup('heartbeat timeout');
  }

  private onHandshakeTimeout(): void {
    this.handshakeTimer = null;
    if (this.state === 'open' || this.destroyed) return;
    this.logger.warn({ conn: this.id, peer: this.peer, state: this.state }, 'handshake timeout; closing socket');
    this.closeReason = { code: 0, text: 'handshake timeout' };
    this.socket.destroy();
    this.cleanup('handshake timeout');
  }

  private clearHandshakeTimer(): void {
    this.handshakeTimer?.clear();
    this.handshakeTimer = null;
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
    this.closeChannels();
    if (!handshakeDone) {
      this.finish();
      return;
    }
    this.send(0, { id: MethodId.ConnectionClose, args: { replyCode: code, replyText: truncateReplyText(text), classId, methodId } });
    this.closeTimer = setLongTimeout(guarded(this.logger, 'connection close timeout', { conn: this.id }, () => this.finish()), this.ctx.options.closeTimeout, { ref: true });
  }

  /** Flush what is queued, then end the socket (FIN). */
  private finish(): void {
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
  private closeOkSent(): void {
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

  private closeChannels(): void {
    for (const ch of this.channels.values()) ch.connectionClosed();
    this.channels.clear();
  }

  /** Releases everything the connection held: unacked messages back to queues, exclusive queues deleted. */
  private cleanup(why: string): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.state = 'closed';
    if (!this.lingering) this.reader.stop();
    // Read, and discard, to the end (see ReadGate.release).
    this.gate.release();
    this.clearHandshakeTimer();
    this.heartbeats?.stop();
    this.closeTimer?.clear();
    if (this.refusalTimer) clearTimeout(this.refusalTimer);
    if (this.refusing) this.socket.resume();
    this.closeChannels();
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
    const name = this.clientProperties['connection_name'];
    const product = this.clientProperties['product'];
    return {
      id: this.id,
      peer: this.peer,
      state: RABBIT_STATE_NAMES[this.state],
      user: this.user?.name ?? null,
      vhost: this.vhost?.name ?? null,
      name: typeof name === 'string' ? name : null,
      clientProduct: typeof product === 'string' ? product : null,
      clientProperties: copyTable(this.clientProperties),
      channels: this.channels.size,
      blocked: this.gate.blocked,
      heartbeat: this.heartbeat,
      frameMax: this.frameMax,
      channelMax: this.channelMax,
      bytesReceived: this.socket.bytesRead,
      bytesSent: this.socket.bytesWritten,
    };
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
    if (this.flushScheduled || this.out.pendingBytes > 0 || this.socket.writableLength > 0) out.push(`${who}: output not yet written to the socket`);
    if (this.gate.throttled) out.push(`${who}: publisher paused by flow control`);
    const before = out.length;
    for (const ch of this.channels.values()) ch.describeInFlight(includeUnacked, out);
    for (let i = before; i < out.length; i++) out[i] = `${who} ${out[i]}`;
  }

  hasCapability(name: string): boolean {
    return this.capabilities[name] === true;
  }

  /** Body frame payload limit for this connection. */
  get maxBodyFrame(): number {
    return this.frameMax === 0 ? Number.MAX_SAFE_INTEGER : this.frameMax - FRAME_OVERHEAD;
  }
}

/** IPv4 127/8, IPv6 ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.');
}
