import type { Socket } from 'node:net';
import type { ResolvedOptions } from '../config.js';
import { FRAME_MIN_SIZE } from '../config.js';
import type { AccessControl, UserRecord } from '../auth/access-control.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import type { Logger } from '../observe/logger.js';
import { guarded, runGuarded } from '../observe/guard.js';
import { setLongTimeout, type LongTimeout } from '../observe/long-timer.js';
import { AmqpError, MethodId, PROTOCOL_HEADER, ReplyCode, methodError, type FieldTable, type Method, type MethodInit } from '../protocol/index.js';
import { RABBIT_STATE_NAMES, type ConnectionState } from './connection-state.js';
import { authenticate, isLoopback, offeredMechanisms, truncateForLog } from './login.js';
import type { LoginThrottle } from './login-throttle.js';
import type { Admission } from './admission.js';

/** What the handshake needs from the broker around the connection. */
export interface HandshakeContext {
  readonly options: ResolvedOptions;
  readonly access: AccessControl;
  readonly vhosts: ReadonlyMap<string, VirtualHost>;
  readonly logger: Logger;
  readonly serverProperties: FieldTable;
  /** Failed logins per client address (refusals delayed under brute force); none: never delayed. */
  readonly loginThrottle?: LoginThrottle;
  /** Vhost and user connection/channel limits (none: unlimited). */
  readonly admission?: Admission;
}

/** The connection as the handshake sees it: the facts it settles, and how it answers or gives up. */
export interface HandshakeHost {
  readonly id: number;
  readonly peer: string;
  readonly socket: Socket;
  /** Over TLS with a verified client certificate: the user SASL EXTERNAL logs in as. */
  readonly certificateUser: string | null;
  /** The connection has released everything it held (its socket is closed or closing). */
  readonly released: boolean;
  state: ConnectionState;
  user: UserRecord | null;
  vhost: VirtualHost | null;
  clientProperties: FieldTable;
  capabilities: FieldTable;
  send(channel: number, method: MethodInit): void;
  closeWithError(err: AmqpError): void;
  /** Ends the socket without connection.close (clients that cannot take one), recording why. */
  endWithoutClose(code: number, text: string): void;
  /** Destroys the socket at once, recording why. */
  abort(why: string): void;
  /** tune-ok accepted: apply the negotiated limits (and start heartbeats). */
  tuned(channelMax: number, frameMax: number, heartbeat: number): void;
  /** The client sent connection.close: answer close-ok and leave the socket to it. */
  clientClosed(code: number, text: string): void;
  /** close-ok was sent: release everything and leave the socket to the client. */
  closeOkSent(): void;
  /** Flush what is queued, then end the socket. */
  finish(): void;
  decode(payload: Buffer): Method;
  /** The user's credentials were renewed: consumers it may no longer read from are cancelled. */
  recheckConsumers(): void;
}

/**
 * Channel 0 of one connection until it closes: the opening handshake
 * (protocol header → start/start-ok → tune/tune-ok → open/open-ok) with
 * login, limit negotiation and the vhost, in RabbitMQ's texts; the handshake
 * timeout; login refusals, delayed under brute force; and the client's
 * close and update-secret. The connection hands every channel-0 method here.
 */
export class Handshake {
  /** The SASL mechanism the client chose. */
  mechanism = '';
  /** A refused login's answer is being delayed (brute-force damping): input is ignored. */
  refusing = false;
  private refusalTimer: NodeJS.Timeout | null = null;
  private timer: LongTimeout | null;

  constructor(
    private readonly conn: HandshakeHost,
    private readonly ctx: HandshakeContext,
  ) {
    // Timers run outside any frame's handling: a failure in one is logged, not a crash.
    this.timer = setLongTimeout(guarded(ctx.logger, 'AMQP handshake timeout', { peer: conn.peer }, () => this.onTimeout()), ctx.options.handshakeTimeout, { ref: true });
  }

  private get logger(): Logger {
    return this.ctx.logger;
  }

  headerReceived(ok: boolean, header: Buffer): void {
    const conn = this.conn;
    if (!ok) {
      // As the spec says: answer with the header we do speak, then close.
      this.logger.warn({ peer: conn.peer, header: header.toString('hex') }, 'unsupported protocol header; closing');
      conn.socket.end(PROTOCOL_HEADER);
      conn.state = 'closed';
      return;
    }
    conn.state = 'awaiting-start-ok';
    conn.send(0, {
      id: MethodId.ConnectionStart,
      args: {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: this.ctx.serverProperties,
        mechanisms: offeredMechanisms(conn.certificateUser),
        locales: 'en_US',
      },
    });
  }

  /** A method on channel 0 of a connection not closing: the handshake's steps, close, update-secret. */
  onConnectionMethod(method: Method): void {
    const conn = this.conn;
    switch (method.id) {
      case MethodId.ConnectionStartOk:
        if (conn.state !== 'awaiting-start-ok') break;
        return this.startOk(method.args.clientProperties, method.args.mechanism, method.args.response);
      case MethodId.ConnectionTuneOk:
        if (conn.state !== 'awaiting-tune-ok') break;
        return this.tuneOk(method.args.channelMax, method.args.frameMax, method.args.heartbeat);
      case MethodId.ConnectionOpen:
        if (conn.state !== 'awaiting-open') break;
        return this.open(method.args.virtualHost);
      case MethodId.ConnectionClose:
        return conn.clientClosed(method.args.replyCode, method.args.replyText);
      case MethodId.ConnectionCloseOk:
        return;
      case MethodId.ConnectionUpdateSecret:
        if (conn.state !== 'open') break;
        // Token rotation. Warren's users all live in its internal database, and RabbitMQ's
        // internal backend accepts any new secret for them (the secret only matters to token
        // backends, e.g. OAuth 2): clients' own test suites (amqplib, pika) send arbitrary ones.
        this.logger.info({ conn: conn.id, peer: conn.peer, user: conn.user!.name, reason: method.args.reason }, 'user updated secret');
        conn.send(0, { id: MethodId.ConnectionUpdateSecretOk, args: {} });
        conn.recheckConsumers();
        return;
      case MethodId.ConnectionBlocked:
      case MethodId.ConnectionUnblocked:
        return; // a client telling us it is blocked: nothing to do
      default:
    }
    throw methodError(ReplyCode.ChannelError, `unexpected method in connection state ${RABBIT_STATE_NAMES[conn.state]}`, method.id);
  }

  /** After our connection.close only close-ok (or a crossing close) matters: anything else, even undecodable, is ignored. */
  onClosingMethod(payload: Buffer): void {
    let method: Method;
    try {
      method = this.conn.decode(payload);
    } catch {
      return;
    }
    if (method.id === MethodId.ConnectionCloseOk) this.conn.finish();
    else if (method.id === MethodId.ConnectionClose) {
      // Crossing closes: answered, and (close-ok sent) the socket is the client's to close.
      this.conn.send(0, { id: MethodId.ConnectionCloseOk, args: {} });
      this.conn.closeOkSent();
    }
  }

  private startOk(clientProperties: FieldTable, mechanism: string, response: Buffer): void {
    const conn = this.conn;
    conn.clientProperties = clientProperties;
    const caps = clientProperties['capabilities'];
    conn.capabilities = caps && typeof caps === 'object' && !Array.isArray(caps) && !Buffer.isBuffer(caps) && !(caps instanceof Date) ? (caps as FieldTable) : {};
    this.mechanism = mechanism;
    const { user, username } = authenticate(this.ctx.access, mechanism, response, conn.certificateUser);
    if (!user) return this.refuseLogin(`Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`, username);
    if (this.ctx.options.loopbackUsers.includes(user.name) && !isLoopback(conn.socket.remoteAddress)) {
      return this.refuseLogin(`user '${user.name}' can only connect via localhost`, user.name);
    }
    this.ctx.loginThrottle?.succeeded(conn.socket.remoteAddress ?? '?');
    conn.user = user;
    conn.state = 'awaiting-tune-ok';
    conn.send(0, {
      id: MethodId.ConnectionTune,
      args: { channelMax: this.ctx.options.channelMax, frameMax: this.ctx.options.frameMax, heartbeat: this.ctx.options.heartbeat },
    });
  }

  /** Authentication failed: 403 via connection.close for clients that understand it, else just close (as RabbitMQ). */
  private refuseLogin(text: string, username: string | undefined): void {
    const conn = this.conn;
    const failure = this.ctx.loginThrottle?.failed(conn.socket.remoteAddress ?? '?');
    if (!failure || failure.log) {
      const repeated = failure && failure.failures > 1 ? { failuresFromAddress: failure.failures, notLoggedSinceLastLine: failure.unlogged, delayMs: failure.delayMs } : {};
      this.logger.warn({ conn: conn.id, peer: conn.peer, user: username && truncateForLog(username), mechanism: this.mechanism, ...repeated }, `authentication failed: ${truncateForLog(text)}`);
    }
    if (!failure || failure.delayMs === 0) return this.sendLoginRefusal(text);
    // Repeated failures from this address: answer later, reading nothing from it meanwhile.
    this.refusing = true;
    conn.socket.pause();
    this.refusalTimer = setTimeout(() => {
      this.refusalTimer = null;
      if (conn.released) return;
      this.refusing = false;
      conn.socket.resume();
      // A timer callback: a throw here would end the process. Contained, and the client is not left waiting.
      if (!runGuarded(this.logger, 'delayed login refusal', { conn: conn.id, peer: conn.peer }, () => this.sendLoginRefusal(text))) conn.abort('login refusal failed');
    }, failure.delayMs);
  }

  private sendLoginRefusal(text: string): void {
    if (this.conn.capabilities['authentication_failure_close'] === true) {
      // As RabbitMQ (rabbit_reader:auth_fail): the client only ever gets this generic text, whatever
      // the reason (wrong password, or a loopback-only user from afar); the detail goes to the log.
      const safe = `Login was refused using authentication mechanism ${this.mechanism}. For details see the broker logfile.`;
      this.conn.closeWithError(new AmqpError(ReplyCode.AccessRefused, safe));
    } else {
      this.conn.endWithoutClose(ReplyCode.AccessRefused, text);
    }
  }

  private tuneOk(channelMax: number, frameMax: number, heartbeat: number): void {
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
    this.conn.tuned(channelMax, frameMax, heartbeat);
  }

  private open(vhostName: string): void {
    const conn = this.conn;
    const vhost = this.ctx.vhosts.get(vhostName);
    if (!vhost) throw methodError(ReplyCode.NotAllowed, `vhost ${vhostName} not found`, MethodId.ConnectionOpen);
    this.ctx.admission?.checkOpen(conn, vhost, conn.user!.name);
    if (!this.ctx.access.mayOpen(conn.user!.name, vhostName)) {
      throw methodError(ReplyCode.NotAllowed, `access to vhost '${vhostName}' refused for user '${conn.user!.name}'`, MethodId.ConnectionOpen);
    }
    conn.vhost = vhost;
    conn.state = 'open';
    this.clearTimer();
    conn.send(0, { id: MethodId.ConnectionOpenOk, args: {} });
    this.logger.info({ conn: conn.id, peer: conn.peer, user: conn.user!.name, vhost: vhostName }, 'connection opened');
  }

  private onTimeout(): void {
    this.timer = null;
    const conn = this.conn;
    if (conn.state === 'open' || conn.released) return;
    this.logger.warn({ conn: conn.id, peer: conn.peer, state: conn.state }, 'handshake timeout; closing socket');
    conn.abort('handshake timeout');
  }

  private clearTimer(): void {
    this.timer?.clear();
    this.timer = null;
  }

  /** The connection is gone: no timer left, and a socket paused for a delayed refusal is read again. */
  release(): void {
    this.clearTimer();
    if (this.refusalTimer) clearTimeout(this.refusalTimer);
    if (this.refusing) this.conn.socket.resume();
  }
}
