/**
 * A TCP sink that speaks just enough AMQP to let a client get going, then
 * discards everything: the way to measure the load generator's own ceiling.
 *
 * It answers the handshake and the synchronous setup methods (channel.open,
 * declares, binds, qos, consume, delete…) with their -ok. At the first
 * basic.publish on a connection it stops parsing: from then on incoming bytes
 * are only counted. On basic.consume it floods the consumer with pre-encoded
 * deliveries (the same bytes over and over, as fast as the socket drains),
 * which measures the client's delivery-parsing ceiling.
 *
 * Run it on its own thread (startSinkWorker) so it does not share the event
 * loop with the client it measures.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  ByteWriter,
  Constants,
  Cursor,
  FrameReader,
  MethodId,
  PROTOCOL_HEADER,
  decodeMethod,
  writeBodyFrames,
  writeHeaderFrame,
  writeMethodFrame,
  type FrameHandler,
  type MethodInit,
} from '../protocol/index.js';

export interface SinkOptions {
  port?: number;
  host?: string;
  /** Body size of the deliveries flooded to consumers (default 64). */
  floodSize?: number;
}

export interface SinkStats {
  connections: number;
  bytesReceived: number;
  /** Bytes received after each connection's first basic.publish (≈ publish traffic). */
  publishBytes: number;
  deliveriesSent: number;
}

const FRAME_MAX = 131072;
const FLOOD_BATCH_BYTES = 64 * 1024;

class SinkConnection implements FrameHandler {
  private readonly reader = new FrameReader(this, FRAME_MAX);
  private readonly out = new ByteWriter();
  private readonly cursor = new Cursor(Buffer.alloc(0));
  private discarding = false;
  private flooding = false;
  private floodBatch: Buffer | null = null;
  private floodCount = 0;
  private nextQueue = 1;

  constructor(private readonly socket: Socket, private readonly stats: SinkStats, private readonly floodSize: number) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => { /* client went away */ });
    socket.on('close', () => { this.flooding = false; });
    socket.on('drain', () => { if (this.flooding) this.flood(); });
  }

  private onData(chunk: Buffer): void {
    this.stats.bytesReceived += chunk.length;
    if (this.discarding) {
      this.stats.publishBytes += chunk.length;
      return;
    }
    try {
      this.reader.push(chunk);
    } catch {
      this.socket.destroy();
      return;
    }
    if (this.discarding) this.stats.publishBytes += chunk.length;
    this.flush();
  }

  onProtocolHeader(ok: boolean): void {
    if (!ok) {
      this.socket.end(PROTOCOL_HEADER);
      return;
    }
    this.send(0, {
      id: MethodId.ConnectionStart,
      args: {
        serverProperties: { product: 'warren-perf-sink', capabilities: { publisher_confirms: true, 'basic.nack': true, consumer_cancel_notify: true } },
        mechanisms: 'PLAIN AMQPLAIN',
        locales: 'en_US',
      },
    });
  }

  onFrame(type: number, channel: number, payload: Buffer): void {
    if (type !== Constants.FRAME_METHOD) return;
    const c = this.cursor;
    c.buf = payload;
    c.pos = 0;
    c.end = payload.length;
    const m = decodeMethod(c);
    switch (m.id) {
      case MethodId.ConnectionStartOk:
        return this.send(0, { id: MethodId.ConnectionTune, args: { channelMax: 2047, frameMax: FRAME_MAX, heartbeat: 0 } });
      case MethodId.ConnectionOpen:
        return this.send(0, { id: MethodId.ConnectionOpenOk, args: {} });
      case MethodId.ConnectionClose:
        this.send(0, { id: MethodId.ConnectionCloseOk, args: {} });
        this.flush();
        this.flooding = false;
        this.socket.end();
        return;
      case MethodId.ChannelOpen:
        return this.send(channel, { id: MethodId.ChannelOpenOk, args: {} });
      case MethodId.ChannelClose:
        this.flooding = false;
        return this.send(channel, { id: MethodId.ChannelCloseOk, args: {} });
      case MethodId.ExchangeDeclare:
        if (!m.args.nowait) this.send(channel, { id: MethodId.ExchangeDeclareOk, args: {} });
        return;
      case MethodId.ExchangeDelete:
        if (!m.args.nowait) this.send(channel, { id: MethodId.ExchangeDeleteOk, args: {} });
        return;
      case MethodId.QueueDeclare:
        if (!m.args.nowait) this.send(channel, { id: MethodId.QueueDeclareOk, args: { queue: m.args.queue || `sink.gen-${this.nextQueue++}`, messageCount: 0, consumerCount: 0 } });
        return;
      case MethodId.QueueBind:
        if (!m.args.nowait) this.send(channel, { id: MethodId.QueueBindOk, args: {} });
        return;
      case MethodId.QueueDelete:
        if (!m.args.nowait) this.send(channel, { id: MethodId.QueueDeleteOk, args: { messageCount: 0 } });
        return;
      case MethodId.QueuePurge:
        if (!m.args.nowait) this.send(channel, { id: MethodId.QueuePurgeOk, args: { messageCount: 0 } });
        return;
      case MethodId.BasicQos:
        return this.send(channel, { id: MethodId.BasicQosOk, args: {} });
      case MethodId.ConfirmSelect:
        if (!m.args.nowait) this.send(channel, { id: MethodId.ConfirmSelectOk, args: {} });
        return;
      case MethodId.BasicConsume: {
        const tag = m.args.consumerTag || 'sink.ctag-1';
        if (!m.args.nowait) this.send(channel, { id: MethodId.BasicConsumeOk, args: { consumerTag: tag } });
        this.startFlood(channel, tag);
        return;
      }
      case MethodId.BasicCancel:
        this.flooding = false;
        if (!m.args.nowait) this.send(channel, { id: MethodId.BasicCancelOk, args: { consumerTag: m.args.consumerTag } });
        return;
      case MethodId.BasicPublish:
        // From here on, everything on this connection is publish traffic: count it, parse nothing.
        this.discarding = true;
        this.reader.stop();
        return;
      default:
    }
  }

  private send(channel: number, method: MethodInit): void {
    writeMethodFrame(this.out, channel, method);
  }

  private flush(): void {
    const chunks = this.out.drain();
    if (chunks.length === 0 || this.socket.destroyed) return;
    this.socket.cork();
    for (const c of chunks) this.socket.write(c);
    this.socket.uncork();
  }

  private startFlood(channel: number, consumerTag: string): void {
    const w = new ByteWriter();
    const body = Buffer.alloc(this.floodSize, 0x78);
    writeMethodFrame(w, channel, { id: MethodId.BasicDeliver, args: { consumerTag, deliveryTag: 1, exchange: '', routingKey: 'sink' } });
    writeHeaderFrame(w, channel, 60, body.length, { deliveryMode: 1 });
    writeBodyFrames(w, channel, body, FRAME_MAX);
    const one = Buffer.concat(w.drain());
    this.floodCount = Math.max(1, Math.floor(FLOOD_BATCH_BYTES / one.length));
    this.floodBatch = Buffer.concat(new Array<Buffer>(this.floodCount).fill(one));
    this.flooding = true;
    setImmediate(() => this.flood());
  }

  private flood(): void {
    const batch = this.floodBatch;
    if (!this.flooding || batch === null || this.socket.destroyed) return;
    this.flush();
    for (let i = 0; i < 8; i++) {
      this.stats.deliveriesSent += this.floodCount;
      if (!this.socket.write(batch)) return; // 'drain' resumes
    }
    setImmediate(() => this.flood());
  }
}

export class SinkServer {
  readonly stats: SinkStats = { connections: 0, bytesReceived: 0, publishBytes: 0, deliveriesSent: 0 };
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static start(o: SinkOptions = {}): Promise<SinkServer> {
    const floodSize = o.floodSize ?? 64;
    return new Promise((resolve, reject) => {
      let sink: SinkServer | null = null;
      const pending: Socket[] = [];
      const server = createServer((socket) => {
        if (!sink) {
          pending.push(socket);
          return;
        }
        sink.accept(socket, floodSize);
      });
      server.once('error', reject);
      server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : 0;
        sink = new SinkServer(server, port);
        for (const s of pending) sink.accept(s, floodSize);
        resolve(sink);
      });
    });
  }

  private accept(socket: Socket, floodSize: number): void {
    this.stats.connections++;
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    new SinkConnection(socket, this.stats, floodSize);
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A sink running on its own thread (own event loop, so own core). */
export interface SinkHandle {
  port: number;
  stats(): Promise<SinkStats>;
  close(): Promise<void>;
  /** True when the sink runs on a worker thread (false: in-process fallback). */
  threaded: boolean;
}

/**
 * Starts a sink on a worker thread. When the compiled worker script is not
 * there (running from TypeScript sources, as under vitest) it falls back to
 * an in-process sink.
 */
export async function startSinkWorker(o: SinkOptions = {}): Promise<SinkHandle> {
  const script = new URL('./sink-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(script))) {
    const sink = await SinkServer.start(o);
    return { port: sink.port, stats: async () => ({ ...sink.stats }), close: () => sink.close(), threaded: false };
  }
  const worker = new Worker(script, { workerData: o });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (m: { type: string; port: number }) => resolve(m.port));
  });
  const ask = <T>(type: string): Promise<T> => new Promise((resolve) => {
    const onMessage = (m: { type: string; value: T }): void => {
      if (m.type !== type) return;
      worker.off('message', onMessage);
      resolve(m.value);
    };
    worker.on('message', onMessage);
    worker.postMessage({ type });
  });
  return {
    port,
    threaded: true,
    stats: () => ask<SinkStats>('stats'),
    close: async () => {
      await ask<null>('close');
      await worker.terminate();
    },
  };
}
