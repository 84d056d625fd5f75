/**
 * A consumer: counts deliveries, acks (singly or `multiple` every N), and,
 * for the latency scenario, reads the publish timestamp from the first 8
 * body bytes. Per delivery it does a counter increment and, with manual
 * acks, at most one small ack frame into the connection's control buffer
 * (flushed once per socket read).
 */
import type { PerfChannel } from './channel.js';
import type { LatencyRecorder } from './stats.js';

export interface ConsumerOptions {
  noAck: boolean;
  /** basic.qos prefetch-count (0 = unlimited). */
  prefetch: number;
  /** Ack with multiple=true every this many deliveries (1 = ack each). */
  multiAck: number;
  /** Record publish→deliver latency from the body's first 8 bytes. */
  latency?: LatencyRecorder;
}

export class Consumer {
  delivered = 0;
  consumerTag = '';
  stoppedWhy: string | null = null;
  private sinceAck = 0;
  private lastTag = 0;

  constructor(readonly ch: PerfChannel, private readonly o: ConsumerOptions) {
    ch.onStop = (why) => {
      this.stoppedWhy ??= why;
    };
  }

  async start(queue: string): Promise<void> {
    if (!this.o.noAck && this.o.prefetch > 0) await this.ch.qos(this.o.prefetch);
    const rec = this.o.latency;
    const ch = this.ch;
    let handler: (tag: number, body: Buffer | null) => void;
    if (rec) {
      handler = (tag, body) => {
        this.delivered++;
        if (body !== null && body.length >= 8) rec.add(Number(process.hrtime.bigint() - body.readBigInt64BE(0)));
        if (!this.o.noAck) this.ackMaybe(tag);
      };
    } else if (this.o.noAck) {
      handler = () => {
        this.delivered++;
      };
    } else {
      const every = Math.max(1, this.o.multiAck);
      if (every === 1) {
        handler = (tag) => {
          this.delivered++;
          ch.ack(tag, false);
        };
      } else {
        handler = (tag) => {
          this.delivered++;
          this.lastTag = tag;
          if (++this.sinceAck >= every) {
            this.sinceAck = 0;
            ch.ack(tag, true);
          }
        };
      }
    }
    this.consumerTag = await this.ch.consume(queue, { noAck: this.o.noAck }, handler);
  }

  private ackMaybe(tag: number): void {
    this.lastTag = tag;
    if (++this.sinceAck >= Math.max(1, this.o.multiAck)) {
      this.sinceAck = 0;
      this.ch.ack(tag, this.o.multiAck > 1);
    }
  }

  /** Acks whatever a multi-ack consumer still holds. */
  flushAcks(): void {
    if (!this.o.noAck && this.sinceAck > 0) {
      this.sinceAck = 0;
      this.ch.ack(this.lastTag, true);
    }
  }
}
