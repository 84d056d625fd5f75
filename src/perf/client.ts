/**
 * A minimal AMQP 0-9-1 client for load generation, built on Warren's own
 * codec (src/protocol). It does only what the benchmark needs — PLAIN login,
 * channels, declare/bind/delete, qos, confirms, consume/ack, and raw writes of
 * pre-encoded publish frames — and keeps the per-message path tiny:
 *
 * - incoming frames are split by FrameReader (zero-copy views); basic.deliver
 *   and publisher-confirm acks are recognised by their class/method id and
 *   parsed in place (no method object); everything else goes through
 *   decodeMethod;
 * - control frames (acks, RPCs) are encoded into one ByteWriter and flushed
 *   once per socket read (or per tick), corked into one writev;
 * - publishers hand whole pre-built batches of publish frames to `writeRaw`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import {
  ByteWriter,
  Constants,
  Cursor,
  FrameReader,
  MethodId,
  PROTOCOL_HEADER,
  contentBodySize,
  decodeMethod,
  writeHeartbeat,
  writeMethodFrame,
  type FieldTable,
  type FrameHandler,
  type Method,
  type MethodInit,
} from '../protocol/index.js';
import type { AmqpUrl } from './url.js';
import { PerfChannel, type ArgsOf, type ChannelConnection } from './channel.js';

/** A channel or connection closed by the broker (or the socket gone). */
export class BrokerError extends Error {
  constructor(readonly replyCode: number, message: string, readonly classId = 0, readonly methodId = 0) {
    super(message);
    this.name = 'BrokerError';
  }
}

export interface ClientOptions {
  /** connection_name in client-properties (shows up in the broker's management UI). */
  name?: string;
  /** Synchronous-method timeout (ms). */
  rpcTimeout?: number;
}

const DELIVER = MethodId.BasicDeliver;
const ACK = MethodId.BasicAck;
const NACK = MethodId.BasicNack;
const FRAME_METHOD = Constants.FRAME_METHOD;
const FRAME_HEADER = Constants.FRAME_HEADER;
const FRAME_BODY = Constants.FRAME_BODY;
const TWO_32 = 0x1_0000_0000;

const CLIENT_CAPABILITIES: FieldTable = {
  publisher_confirms: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  'connection.blocked': true,
  authentication_failure_close: true,
  exchange_exchange_bindings: true,
  per_consumer_qos: true,
};

export class AmqpClient implements FrameHandler, ChannelConnection {
  frameMax = 131072;
  channelMax = 2047;
  heartbeat = 0;
  serverProperties: FieldTable = {};
  /** The broker said connection.blocked (resource alarm) and has not unblocked yet. */
  blocked = false;
  closed = false;
  closeError: Error | null = null;
  readonly rpcTimeout: number;

  private readonly reader: FrameReader;
  private readonly out = new ByteWriter(64 * 1024);
  private readonly channels: Array<PerfChannel | undefined> = [];
  private readonly ch0 = new PerfChannel(this, 0);
  private nextChannel = 1;
  private inData = false;
  private flushQueued = false;
  private sawFrame = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly closedPromise: Promise<void>;
  private readonly cursor = new Cursor(Buffer.alloc(0));

  private constructor(readonly socket: Socket, readonly url: AmqpUrl, opts: ClientOptions) {
    this.rpcTimeout = opts.rpcTimeout ?? 30_000;
    this.reader = new FrameReader(this, 0);
    // FrameReader is the server's: it first expects a protocol header. Feed it ours so it reads frames from byte 0.
    this.reader.push(PROTOCOL_HEADER);
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.onSocketClosed();
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeError ??= err;
    });
  }

  /** Opens a TCP (or TLS) connection and completes the handshake (PLAIN). */
  static async connect(url: AmqpUrl, opts: ClientOptions = {}): Promise<AmqpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = url.tls ? tlsConnect({ host: url.host, port: url.port, servername: url.host }) : netConnect({ host: url.host, port: url.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${url.host}:${url.port} timed out after ${url.connectTimeout} ms`));
      }, url.connectTimeout);
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${url.host}:${url.port}: ${err.message}`));
      });
      s.once(url.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
    });
    socket.setNoDelay(true);
    const client = new AmqpClient(socket, url, opts);
    try {
      await client.handshake(opts.name ?? 'warren-perf');
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return client;
  }

  private async handshake(name: string): Promise<void> {
    const url = this.url;
    const start = this.expect0(MethodId.ConnectionStart);
    this.socket.write(PROTOCOL_HEADER);
    const s = await start;
    this.serverProperties = s.serverProperties;
    const mechanisms = s.mechanisms.toString('utf8').split(' ');
    if (!mechanisms.includes('PLAIN')) throw new Error(`server does not offer PLAIN (offers: ${mechanisms.join(', ')})`);
    const tune = this.expect0(MethodId.ConnectionTune);
    this.sendMethod(0, {
      id: MethodId.ConnectionStartOk,
      args: {
        clientProperties: { product: 'warren-perf', platform: `Node.js ${process.version}`, connection_name: name, capabilities: CLIENT_CAPABILITIES },
        mechanism: 'PLAIN',
        response: Buffer.from(`\0${url.user}\0${url.password}`, 'utf8'),
        locale: 'en_US',
      },
    });
    const t = await tune;
    const pick = (server: number, mine: number): number => (server === 0 ? mine : mine === 0 ? server : Math.min(server, mine));
    this.frameMax = pick(t.frameMax, url.frameMax) || 131072;
    this.channelMax = pick(t.channelMax, url.channelMax) || 65535;
    this.heartbeat = url.heartbeat === 0 ? 0 : pick(t.heartbeat, url.heartbeat);
    this.reader.setFrameMax(this.frameMax);
    const openOk = this.expect0(MethodId.ConnectionOpenOk);
    this.sendMethod(0, { id: MethodId.ConnectionTuneOk, args: { channelMax: this.channelMax, frameMax: this.frameMax, heartbeat: this.heartbeat } });
    this.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: url.vhost } });
    await openOk;
    if (this.heartbeat > 0) {
      this.heartbeatTimer = setInterval(() => {
        writeHeartbeat(this.out);
        this.scheduleFlush();
      }, (this.heartbeat * 1000) / 2);
      this.heartbeatTimer.unref();
    }
  }

  private expect0<I extends Method['id']>(id: I): Promise<ArgsOf<I>> {
    return new Promise<ArgsOf<I>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`handshake with ${this.url.host}:${this.url.port} timed out waiting for method 0x${id.toString(16)}`)), this.url.connectTimeout);
      this.ch0.waiters.push({ expect: id, resolve: resolve as (a: unknown) => void, reject, timer });
    });
  }

  // ------------------------------------------------------------------ input

  private onData(chunk: Buffer): void {
    if (!this.sawFrame) {
      this.sawFrame = true;
      if (chunk.length >= 4 && chunk.toString('latin1', 0, 4) === 'AMQP') {
        this.fatal(new Error(`server refused AMQP 0-9-1 (answered with protocol header ${chunk.subarray(0, 8).toString('hex')})`));
        return;
      }
    }
    this.inData = true;
    try {
      this.reader.push(chunk);
    } catch (err) {
      this.fatal(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.inData = false;
    }
    if (!this.out.isEmpty) this.flush();
  }

  onProtocolHeader(): void {
    // Only the header we fed in ourselves.
  }

  onFrame(type: number, channelId: number, payload: Buffer): void {
    if (type === FRAME_BODY) {
      const ch = this.channels[channelId];
      if (ch === undefined || ch.kind === 0) return;
      if (ch.firstChunk === null) ch.firstChunk = payload;
      const left = ch.bodyLeft - payload.length;
      ch.bodyLeft = left;
      if (left <= 0) ch.completeContent();
      return;
    }
    if (type === FRAME_METHOD) {
      const id = payload.readUInt32BE(0);
      if (id === DELIVER) {
        const ch = this.channels[channelId];
        if (ch === undefined) return;
        const at = 5 + payload[4]!; // skip the consumer tag
        ch.tag = payload.readUInt32BE(at) * TWO_32 + payload.readUInt32BE(at + 4);
        ch.kind = 1;
        ch.firstChunk = null;
        return;
      }
      if (id === ACK || id === NACK) {
        const ch = this.channels[channelId];
        if (ch === undefined || ch.confirms === null) return;
        const tag = payload.readUInt32BE(4) * TWO_32 + payload.readUInt32BE(8);
        ch.confirms.settle(tag, (payload[12]! & 1) !== 0, id === NACK);
        ch.onConfirm?.();
        return;
      }
      this.onMethod(channelId, payload);
      return;
    }
    if (type === FRAME_HEADER) {
      const ch = this.channels[channelId];
      if (ch === undefined || ch.kind === 0) return;
      const size = contentBodySize(payload);
      ch.bodyLeft = size;
      if (size === 0) ch.completeContent();
      return;
    }
    // heartbeat: nothing to do (any traffic counts as liveness for the broker)
  }

  private onMethod(channelId: number, payload: Buffer): void {
    const c = this.cursor;
    c.buf = payload;
    c.pos = 0;
    c.end = payload.length;
    const m = decodeMethod(c);
    if (channelId === 0) {
      switch (m.id) {
        case MethodId.ConnectionClose: {
          this.sendMethod(0, { id: MethodId.ConnectionCloseOk, args: {} });
          this.flush();
          this.fatal(new BrokerError(m.args.replyCode, `connection closed by the broker: ${m.args.replyCode} ${m.args.replyText}`, m.args.classId, m.args.methodId));
          return;
        }
        case MethodId.ConnectionBlocked:
          this.blocked = true;
          return;
        case MethodId.ConnectionUnblocked:
          this.blocked = false;
          return;
        default:
          this.ch0.resolveWaiter(m.id, m.args);
          return;
      }
    }
    const ch = this.channels[channelId];
    if (ch === undefined) return;
    switch (m.id) {
      case MethodId.ChannelClose: {
        this.sendMethod(channelId, { id: MethodId.ChannelCloseOk, args: {} });
        this.channelGone(ch, new BrokerError(m.args.replyCode, `channel ${channelId} closed by the broker: ${m.args.replyCode} ${m.args.replyText}`, m.args.classId, m.args.methodId));
        return;
      }
      case MethodId.BasicCancel:
        // The broker cancelled our consumer (queue deleted…).
        ch.onStop?.('consumer cancelled by the broker');
        return;
      case MethodId.ChannelFlow:
        this.sendMethod(channelId, { id: MethodId.ChannelFlowOk, args: { active: m.args.active } });
        return;
      case MethodId.BasicReturn:
      case MethodId.BasicGetOk:
        ch.kind = 2; // content follows: skip it
        return;
      default:
        ch.resolveWaiter(m.id, m.args);
    }
  }

  // ------------------------------------------------------------------ output

  sendMethod(channel: number, method: MethodInit): void {
    if (this.closed) return;
    writeMethodFrame(this.out, channel, method);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.inData || this.flushQueued) return; // onData flushes when it is done
    this.flushQueued = true;
    process.nextTick(() => this.flush());
  }

  /** Writes every control frame encoded so far, corked into one writev. */
  flush(): void {
    this.flushQueued = false;
    if (this.out.isEmpty) return;
    const chunks = this.out.drain();
    if (this.closed) return;
    const s = this.socket;
    if (chunks.length === 1) s.write(chunks[0]!);
    else {
      s.cork();
      for (let i = 0; i < chunks.length; i++) s.write(chunks[i]!);
      s.uncork();
    }
  }

  /**
   * Writes pre-encoded frames (after any pending control frames). Returns
   * socket.write's verdict: false means wait for 'drain'.
   */
  writeRaw(bytes: Buffer): boolean {
    if (!this.out.isEmpty) this.flush();
    return this.socket.write(bytes);
  }

  // ------------------------------------------------------------------ channels and lifecycle

  async openChannel(): Promise<PerfChannel> {
    if (this.closed) throw this.closeError ?? new Error('connection is closed');
    let id = this.nextChannel;
    const max = Math.min(this.channelMax, 65535);
    for (let tries = 0; this.channels[id] !== undefined; tries++) {
      if (tries > max) throw new Error('no free channel number');
      id = id >= max ? 1 : id + 1;
    }
    this.nextChannel = id >= max ? 1 : id + 1;
    const ch = new PerfChannel(this, id);
    this.channels[id] = ch;
    await ch.call({ id: MethodId.ChannelOpen, args: {} }, MethodId.ChannelOpenOk);
    return ch;
  }

  /** @internal */
  channelGone(ch: PerfChannel, err: Error | null): void {
    if (this.channels[ch.id] === ch) this.channels[ch.id] = undefined;
    ch.failAll(err ?? new Error(`channel ${ch.id} closed`));
  }

  /** Resolves once the socket is closed. */
  get whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** connection.close and wait for close-ok (at most `timeout` ms), then the socket is ended. */
  async close(timeout = 5000): Promise<void> {
    if (this.closed) return;
    const ok = this.expect0(MethodId.ConnectionCloseOk).catch(() => undefined);
    this.sendMethod(0, { id: MethodId.ConnectionClose, args: { replyCode: Constants.REPLY_SUCCESS, replyText: 'perf done', classId: 0, methodId: 0 } });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ok, this.closedPromise, new Promise<void>((r) => { timer = setTimeout(r, timeout); })]);
    clearTimeout(timer);
    this.socket.end();
    this.destroySoon();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private destroySoon(): void {
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private fatal(err: Error): void {
    this.closeError ??= err;
    this.reader.stop();
    this.socket.end();
    this.destroySoon();
    this.onSocketClosed();
  }

  private onSocketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const err = this.closeError ?? new Error(`connection to ${this.url.host}:${this.url.port} closed`);
    this.closeError = err;
    this.ch0.failAll(err);
    for (const ch of this.channels) if (ch) ch.failAll(err);
    this.channels.length = 0;
  }

  /** Bytes the socket has queued in user space (not yet handed to the kernel). */
  get writableLength(): number {
    return this.socket.writableLength;
  }
}
