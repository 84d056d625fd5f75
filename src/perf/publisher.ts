/**
 * Publishing at the speed of `socket.write`.
 *
 * Every message of a run is the same bytes: basic.publish + content header +
 * body frames are encoded once (one "triple" per routing key) and laid out
 * in a ring of pre-encoded triples, stored twice in a row so any window of up
 * to `maxBatch` consecutive triples is one contiguous slice. Publishing n
 * messages is then one `subarray` and one `socket.write` — nothing is encoded,
 * copied or patched per message. A publisher writes a few such batches per
 * event-loop turn and yields (so confirms and deliveries are read in between),
 * waits for 'drain' when the socket is full, for acks when its confirm window
 * is full, and for the clock when it is rate-limited.
 *
 * The latency publisher is the exception: each message carries its send time
 * (process.hrtime) in the first 8 body bytes, so it copies the template and
 * stamps it — at a fixed, modest rate this costs nothing measurable.
 */
import {
  ByteWriter,
  MethodId,
  writeBodyFrames,
  writeHeaderFrame,
  writeMethodFrame,
  type BasicProperties,
} from '../protocol/index.js';
import type { AmqpClient } from './client.js';
import type { PerfChannel } from './channel.js';

/** Bytes per socket.write a publisher aims at when --batch is not given. */
export const DEFAULT_BATCH_BYTES = 64 * 1024;
/** Most publishes in one write when --batch is not given. */
const MAX_AUTO_BATCH = 1024;
/** Batches written per event-loop turn before yielding. */
const WRITES_PER_TURN = 4;

export interface MessageSpec {
  exchange: string;
  routingKeys: readonly string[];
  size: number;
  persistent: boolean;
}

/** One basic.publish + header + body frames, as bytes. Returns the bytes and the body's offset in them. */
export function encodePublish(channel: number, exchange: string, routingKey: string, body: Buffer, properties: BasicProperties, frameMax: number): { bytes: Buffer; bodyOffset: number } {
  const w = new ByteWriter();
  writeMethodFrame(w, channel, { id: MethodId.BasicPublish, args: { exchange, routingKey } });
  writeHeaderFrame(w, channel, 60, body.length, properties);
  const headLen = w.pendingBytes;
  writeBodyFrames(w, channel, body, frameMax);
  return { bytes: Buffer.concat(w.drain()), bodyOffset: headLen + 7 };
}

export function messageBody(size: number): Buffer {
  return Buffer.alloc(size, 0x78); // 'x'
}

export function publishProperties(persistent: boolean): BasicProperties {
  return { deliveryMode: persistent ? 2 : 1 };
}

/** Pre-encoded publishes: a ring of triples (cycling the routing keys), doubled so every window is contiguous. */
export class PublishRing {
  readonly bytes: Buffer;
  /** Triples in the ring (one copy). */
  readonly length: number;
  readonly maxBatch: number;
  /** Size of one triple when all routing keys encode to the same length (else the mean). */
  readonly tripleSize: number;
  private readonly offsets: Float64Array;
  private cursor = 0;

  constructor(channel: number, spec: MessageSpec, frameMax: number, batch = 0) {
    if (spec.routingKeys.length === 0) throw new Error('at least one routing key');
    const body = messageBody(spec.size);
    const props = publishProperties(spec.persistent);
    const triples = spec.routingKeys.map((rk) => encodePublish(channel, spec.exchange, rk, body, props, frameMax).bytes);
    const mean = triples.reduce((s, t) => s + t.length, 0) / triples.length;
    this.tripleSize = mean;
    const maxBatch = batch > 0 ? batch : Math.max(1, Math.min(MAX_AUTO_BATCH, Math.floor(DEFAULT_BATCH_BYTES / mean)));
    this.maxBatch = maxBatch;
    const reps = Math.max(1, Math.ceil(maxBatch / triples.length));
    this.length = reps * triples.length;
    const all: Buffer[] = [];
    for (let copy = 0; copy < 2 * reps; copy++) all.push(...triples);
    this.bytes = Buffer.concat(all);
    this.offsets = new Float64Array(all.length + 1);
    let at = 0;
    for (let i = 0; i < all.length; i++) {
      this.offsets[i] = at;
      at += all[i]!.length;
    }
    this.offsets[all.length] = at;
  }

  /** The next `n` (≤ maxBatch) publishes as one slice. */
  next(n: number): Buffer {
    const c = this.cursor;
    const out = this.bytes.subarray(this.offsets[c]!, this.offsets[c + n]!);
    const next = c + n;
    this.cursor = next >= this.length ? next - this.length : next;
    return out;
  }
}

export interface PublisherOptions {
  /** Stop after this many messages (0 = no limit). */
  limit: number;
  /** Messages per second (0 = as fast as possible). */
  rate: number;
  /** Unconfirmed messages allowed in flight (0 = confirms off). */
  confirmWindow: number;
}

type Waiting = 'none' | 'drain' | 'confirm' | 'timer' | 'immediate' | 'done';

/** Publishes pre-encoded batches on one channel until stopped or its limit is reached. */
export class Publisher {
  published = 0;
  error: Error | null = null;
  private waiting: Waiting = 'none';
  private stopped = false;
  private startedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private resolveDone!: () => void;
  readonly done: Promise<void>;

  constructor(
    private readonly client: AmqpClient,
    private readonly ch: PerfChannel,
    private readonly ring: PublishRing | null,
    private readonly o: PublisherOptions,
    /** For latency: a template publish and where its body starts (stamped per message). */
    private readonly stamped: { bytes: Buffer; bodyOffset: number } | null = null,
  ) {
    this.done = new Promise((r) => { this.resolveDone = r; });
    ch.onConfirm = () => {
      if (this.waiting === 'confirm') {
        this.waiting = 'immediate';
        process.nextTick(this.pump); // once per socket read, not once per ack frame
      }
    };
    ch.onStop = (why) => this.fail(new Error(why));
    client.socket.on('drain', () => {
      if (this.waiting === 'drain') {
        this.waiting = 'none';
        this.pump();
      }
    });
  }

  get confirmed(): number {
    return this.ch.confirms?.confirmed ?? 0;
  }

  get nacked(): number {
    return this.ch.confirms?.nacked ?? 0;
  }

  get outstanding(): number {
    return this.ch.confirms?.outstanding ?? 0;
  }

  start(): Promise<void> {
    this.startedAt = performance.now();
    this.pump();
    return this.done;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.finish();
  }

  private finish(): void {
    if (this.waiting === 'done') return;
    this.waiting = 'done';
    this.resolveDone();
  }

  private fail(err: Error): void {
    this.error ??= err;
    this.stop();
  }

  private readonly pump = (): void => {
    if (this.waiting === 'done') return;
    this.waiting = 'none';
    if (this.stopped) return this.finish();
    if (this.client.closed) return this.fail(this.client.closeError ?? new Error('connection closed'));
    const o = this.o;
    const cf = this.ch.confirms;
    const ring = this.ring;
    const maxBatch = ring ? ring.maxBatch : 64;
    for (let writes = 0; writes < WRITES_PER_TURN; writes++) {
      let n = maxBatch;
      if (o.limit > 0) {
        const left = o.limit - this.published;
        if (left <= 0) return this.finish();
        if (left < n) n = left;
      }
      if (cf !== null) {
        const room = o.confirmWindow - cf.outstanding;
        if (room <= 0) {
          this.waiting = 'confirm';
          return;
        }
        if (room < n) n = room;
      }
      if (o.rate > 0) {
        const elapsed = performance.now() - this.startedAt;
        const allowed = Math.floor((elapsed * o.rate) / 1000) - this.published;
        if (allowed <= 0) {
          const due = ((this.published + 1) * 1000) / o.rate - elapsed;
          this.waiting = 'timer';
          this.timer = setTimeout(this.pump, Math.max(1, Math.ceil(due)));
          return;
        }
        if (allowed < n) n = allowed;
      }
      this.published += n;
      if (cf !== null) cf.published += n;
      const ok = ring !== null ? this.client.writeRaw(ring.next(n)) : this.writeStamped(n);
      if (!ok) {
        this.waiting = 'drain';
        return;
      }
    }
    this.waiting = 'immediate';
    setImmediate(this.pump);
  };

  /** n copies of the template, each stamped with its own send time. */
  private writeStamped(n: number): boolean {
    const t = this.stamped!;
    const size = t.bytes.length;
    const out = Buffer.allocUnsafe(size * n);
    for (let i = 0; i < n; i++) {
      const at = i * size;
      t.bytes.copy(out, at);
      out.writeBigInt64BE(process.hrtime.bigint(), at + t.bodyOffset);
    }
    return this.client.writeRaw(out);
  }
}
