/**
 * A bare AMQP 0-9-1 client over a real `net.Socket`, built on our own codec,
 * for tests that must send exactly the bytes they want (malformed frames,
 * odd handshakes) and see exactly what the server answers.
 *
 * Received bytes are parsed here with a minimal, independent frame splitter
 * (so a bug in the server's FrameReader cannot hide itself), and method
 * payloads are decoded with `decodeMethod`.
 */
import { connect as netConnect, type Socket } from 'node:net';
import {
  ByteWriter,
  Constants,
  Cursor,
  MethodId,
  PROTOCOL_HEADER,
  decodeMethod,
  encodeTable,
  writeBodyFrames,
  writeHeaderFrame,
  writeMethodFrame,
  type BasicProperties,
  type FieldTable,
  type Method,
  type MethodInit,
} from '../../src/protocol/index.js';
import { WAIT_MS } from './wait.js';

export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
  /** Decoded method for method frames (undefined when it does not decode). */
  method?: Method;
  /** When the bytes completing it arrived (performance.now(); only for frames the client received). */
  at?: number;
}

/** The decoded arguments of the method with id `I`. */
export type ArgsOf<I extends Method['id']> = Extract<Method, { id: I }> extends { args: infer A } ? A : never;

export type FramePredicate = (f: Frame) => boolean;

/** Matches a method frame by id (and channel, when given). */
export function isMethod(id: number, channel?: number): FramePredicate {
  return (f) => f.type === Constants.FRAME_METHOD && f.method?.id === id && (channel === undefined || f.channel === channel);
}

export interface HandshakeOptions {
  user?: string;
  password?: string;
  mechanism?: 'PLAIN' | 'AMQPLAIN' | string;
  /** Raw SASL response; overrides user/password. */
  response?: Buffer;
  vhost?: string;
  /** tune-ok values; default: echo what the server offered. */
  channelMax?: number;
  frameMax?: number;
  heartbeat?: number;
  /** client-properties.capabilities; default { authentication_failure_close: true }. */
  capabilities?: FieldTable;
  clientProperties?: FieldTable;
  /** Stop after this step (default 'open'). */
  until?: 'start' | 'start-ok' | 'tune-ok' | 'open';
}

export interface HandshakeResult {
  start: ArgsOf<typeof MethodId.ConnectionStart>;
  tune?: ArgsOf<typeof MethodId.ConnectionTune>;
}

export type CloseArgs = ArgsOf<typeof MethodId.ConnectionClose>;
export type ChannelCloseArgs = ArgsOf<typeof MethodId.ChannelClose>;

/** PLAIN response: authzid NUL user NUL password. */
export function plainResponse(user: string, password: string): Buffer {
  return Buffer.from(`\0${user}\0${password}`, 'utf8');
}

/** AMQPLAIN response: a field table without its 4-byte length prefix. */
export function amqplainResponse(user: string, password: string): Buffer {
  const w = new ByteWriter();
  encodeTable(w, { LOGIN: user, PASSWORD: password });
  return Buffer.from(w.take().subarray(4));
}

/** One complete frame as bytes (any type/channel/payload; frame-end is configurable to build broken frames). */
export function frameBytes(type: number, channel: number, payload: Buffer, frameEnd: number = Constants.FRAME_END): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[7 + payload.length] = frameEnd;
  return b;
}

/** Encodes `method` as a method frame. */
export function methodFrame(channel: number, method: MethodInit): Buffer {
  const w = new ByteWriter();
  writeMethodFrame(w, channel, method);
  return Buffer.concat(w.drain());
}

export function headerFrame(channel: number, bodySize: number, properties: BasicProperties = {}, classId = 60): Buffer {
  const w = new ByteWriter();
  writeHeaderFrame(w, channel, classId, bodySize, properties);
  return Buffer.concat(w.drain());
}

export function bodyFrames(channel: number, body: Buffer, frameMax: number): Buffer {
  const w = new ByteWriter();
  writeBodyFrames(w, channel, body, frameMax);
  return Buffer.concat(w.drain());
}

/** Splits `buf` into complete frames (decoding methods); a trailing partial frame is an error. */
export function decodeFrames(buf: Buffer): Frame[] {
  const frames: Frame[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (buf.length - pos < 8) throw new Error(`partial frame header at ${pos}`);
    const size = buf.readUInt32BE(pos + 3);
    if (buf.length - pos < size + 8) throw new Error(`partial frame at ${pos}`);
    if (buf[pos + 7 + size] !== Constants.FRAME_END) throw new Error(`bad frame-end octet at ${pos + 7 + size}`);
    const frame: Frame = { type: buf[pos]!, channel: buf.readUInt16BE(pos + 1), payload: Buffer.from(buf.subarray(pos + 7, pos + 7 + size)) };
    if (frame.type === Constants.FRAME_METHOD) frame.method = decodeMethod(new Cursor(frame.payload));
    frames.push(frame);
    pos += size + 8;
  }
  return frames;
}

export class RawClient {
  readonly frames: Frame[] = [];
  /** Every byte received, in order. */
  received: Buffer = Buffer.alloc(0);
  /** Set when the server answered with a protocol header (bad header case). */
  protocolHeaderReply: Buffer | null = null;
  closed = false;
  /** When the socket closed (Date.now()). */
  closedAt = 0;
  /** Negotiated frame_max (for body splitting). */
  frameMax = 131072;
  private pending: Buffer = Buffer.alloc(0);
  private readIndex = 0;
  private waiters: Array<() => void> = [];
  private readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => { /* ECONNRESET etc.: 'close' follows */ });
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        this.closedAt = Date.now();
        this.wake();
        resolve();
      });
    });
  }

  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host, ...(localAddress ? { localAddress } : {}) });
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Connects and completes the handshake (PLAIN guest/guest on "/" unless told otherwise). */
  static async open(port: number, options: HandshakeOptions = {}): Promise<RawClient> {
    const c = await RawClient.connect(port);
    await c.handshake(options);
    return c;
  }

  // ------------------------------------------------------------------ receiving

  private onData(chunk: Buffer): void {
    const at = performance.now();
    this.received = Buffer.concat([this.received, chunk]);
    let buf: Buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.frames.length === 0 && this.protocolHeaderReply === null && buf.length >= 4 && buf.toString('latin1', 0, 4) === 'AMQP') {
      if (buf.length < 8) {
        this.pending = buf;
        return;
      }
      this.protocolHeaderReply = Buffer.from(buf.subarray(0, 8));
      buf = buf.subarray(8);
    }
    let pos = 0;
    while (buf.length - pos >= 7) {
      const size = buf.readUInt32BE(pos + 3);
      if (buf.length - pos < size + 8) break;
      const type = buf[pos]!;
      const channel = buf.readUInt16BE(pos + 1);
      const payload = Buffer.from(buf.subarray(pos + 7, pos + 7 + size));
      if (buf[pos + 7 + size] !== Constants.FRAME_END) throw new Error(`server sent a bad frame-end octet at frame ${this.frames.length}`);
      const frame: Frame = { type, channel, payload, at };
      if (type === Constants.FRAME_METHOD) {
        try {
          frame.method = decodeMethod(new Cursor(payload));
        } catch {
          // leave undecoded: a test asserting on it will fail visibly
        }
      }
      this.frames.push(frame);
      pos += size + 8;
    }
    this.pending = Buffer.from(buf.subarray(pos));
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Resolves with the next frame (after those already returned by `waitFor`)
   * matching `pred`; rejects after `timeout` ms or when the socket closes
   * without one.
   */
  async waitFor(pred: FramePredicate, timeout = WAIT_MS, what = 'frame'): Promise<Frame> {
    const deadline = Date.now() + timeout;
    for (;;) {
      for (let i = this.readIndex; i < this.frames.length; i++) {
        const f = this.frames[i]!;
        if (pred(f)) {
          this.readIndex = i + 1;
          return f;
        }
      }
      if (this.closed) throw new Error(`socket closed while waiting for ${what}; got ${this.describeFrames()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.describeFrames()}`);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.changed(), new Promise<void>((r) => { timer = setTimeout(r, left); })]);
      clearTimeout(timer);
    }
  }

  /** Waits for a method frame with this id and returns its decoded arguments. */
  async waitForMethod<I extends Method['id']>(id: I, channel?: number, timeout = WAIT_MS): Promise<ArgsOf<I>> {
    const name = Object.entries(MethodId).find(([, v]) => v === id)?.[0] ?? String(id);
    const f = await this.waitFor(isMethod(id, channel), timeout, name);
    return f.method!.args as unknown as ArgsOf<I>;
  }

  /** Resolves once the socket is closed; rejects after `timeout` ms. */
  async waitClosed(timeout = WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket still open after ${timeout} ms; got ${this.describeFrames()}`)), timeout);
    });
    try {
      await Promise.race([this.closedPromise, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The server's connection.close: waits for it, answers close-ok, and waits
   * for the socket to close. Returns its arguments.
   */
  async expectConnectionClose(timeout = WAIT_MS): Promise<CloseArgs> {
    const args = await this.waitForMethod(MethodId.ConnectionClose, 0, timeout);
    if (!this.closed) this.sendMethod(0, { id: MethodId.ConnectionCloseOk, args: {} });
    await this.waitClosed(timeout);
    return args;
  }

  /** Method frames received so far (decoded). */
  get methods(): Method[] {
    return this.frames.flatMap((f) => (f.method ? [f.method] : []));
  }

  get heartbeats(): number {
    return this.frames.filter((f) => f.type === Constants.FRAME_HEARTBEAT).length;
  }

  describeFrames(): string {
    const names = this.frames.map((f) => {
      if (f.type === Constants.FRAME_HEARTBEAT) return 'heartbeat';
      if (f.type !== Constants.FRAME_METHOD) return `frame(type ${f.type}, ch ${f.channel})`;
      const m = f.method;
      if (!m) return `undecodable method(ch ${f.channel})`;
      const name = Object.entries(MethodId).find(([, v]) => v === m.id)?.[0] ?? String(m.id);
      if (m.id === MethodId.ConnectionClose || m.id === MethodId.ChannelClose) return `${name}(ch ${f.channel}, ${m.args.replyCode} ${m.args.replyText})`;
      return `${name}(ch ${f.channel})`;
    });
    return `[${names.join(', ')}]${this.closed ? ' (closed)' : ''}`;
  }

  // ------------------------------------------------------------------ sending

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  sendProtocolHeader(header: Buffer = PROTOCOL_HEADER): void {
    this.send(header);
  }

  sendMethod(channel: number, method: MethodInit): void {
    this.send(methodFrame(channel, method));
  }

  sendFrame(type: number, channel: number, payload: Buffer, frameEnd: number = Constants.FRAME_END): void {
    this.send(frameBytes(type, channel, payload, frameEnd));
  }

  /** basic.publish + content header + body frames (split at the negotiated frame_max), in one write. */
  publish(channel: number, exchange: string, routingKey: string, body: Buffer, properties: BasicProperties = {}): void {
    this.send(Buffer.concat([
      methodFrame(channel, { id: MethodId.BasicPublish, args: { exchange, routingKey } }),
      headerFrame(channel, body.length, properties),
      bodyFrames(channel, body, this.frameMax),
    ]));
  }

  async handshake(o: HandshakeOptions = {}): Promise<HandshakeResult> {
    const until = o.until ?? 'open';
    this.sendProtocolHeader();
    const start = await this.waitForMethod(MethodId.ConnectionStart, 0);
    if (until === 'start') return { start };
    const mechanism = o.mechanism ?? 'PLAIN';
    const user = o.user ?? 'guest';
    const password = o.password ?? 'guest';
    const response = o.response ?? (mechanism === 'AMQPLAIN' ? amqplainResponse(user, password) : plainResponse(user, password));
    this.sendMethod(0, {
      id: MethodId.ConnectionStartOk,
      args: {
        clientProperties: {
          product: 'warren-test-raw-client',
          capabilities: o.capabilities ?? { authentication_failure_close: true },
          ...o.clientProperties,
        },
        mechanism,
        response,
        locale: 'en_US',
      },
    });
    if (until === 'start-ok') return { start };
    const tune = await this.waitForMethod(MethodId.ConnectionTune, 0);
    const frameMax = o.frameMax ?? tune.frameMax;
    this.frameMax = frameMax;
    this.sendMethod(0, {
      id: MethodId.ConnectionTuneOk,
      args: { channelMax: o.channelMax ?? tune.channelMax, frameMax, heartbeat: o.heartbeat ?? 0 },
    });
    if (until === 'tune-ok') return { start, tune };
    this.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: o.vhost ?? '/' } });
    await this.waitForMethod(MethodId.ConnectionOpenOk, 0);
    return { start, tune };
  }

  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, { id: MethodId.ChannelOpen, args: {} });
    await this.waitForMethod(MethodId.ChannelOpenOk, channel);
  }

  /** Client-initiated connection.close: waits for close-ok, then closes the socket and waits for it to close. */
  async close(): Promise<void> {
    this.sendMethod(0, { id: MethodId.ConnectionClose, args: { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 } });
    await this.waitForMethod(MethodId.ConnectionCloseOk, 0);
    // The receiver of close-ok closes the socket (the server leaves it to us, as RabbitMQ does).
    this.socket.end();
    await this.waitClosed();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * basic.get (no-ack) over a raw socket: the content-header payload exactly as
 * the broker sent it (class id, weight, body size, property flags, property
 * list) and the body. Null when the queue is empty.
 */
export async function rawGet(port: number, queue: string): Promise<{ header: Buffer; body: Buffer } | null> {
  const c = await RawClient.open(port);
  try {
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.BasicGet, args: { queue, noAck: true } });
    const reply = await c.waitFor((f) => f.channel === 1 && f.type === Constants.FRAME_METHOD && (f.method?.id === MethodId.BasicGetOk || f.method?.id === MethodId.BasicGetEmpty), WAIT_MS, 'basic.get-ok');
    if (reply.method?.id === MethodId.BasicGetEmpty) return null;
    const header = await c.waitFor((f) => f.channel === 1 && f.type === Constants.FRAME_HEADER, WAIT_MS, 'content header');
    const size = Number(header.payload.readBigUInt64BE(4));
    const chunks: Buffer[] = [];
    let got = 0;
    while (got < size) {
      const f = await c.waitFor((fr) => fr.channel === 1 && fr.type === Constants.FRAME_BODY, WAIT_MS, 'body frame');
      chunks.push(f.payload);
      got += f.payload.length;
    }
    return { header: header.payload, body: Buffer.concat(chunks) };
  } finally {
    await c.close().catch(() => c.destroy());
  }
}
