/**
 * Confirmed persistent publishing and acking consumption against a cluster,
 * surviving failovers: each side reconnects (through any live node: they
 * proxy to the leader) whenever its connection drops.
 *
 * Bookkeeping for the checks after the chaos:
 * - `confirmed`: ids the broker confirmed — each must be found again;
 * - `durablyAcked`: ids whose ack is known durable — the consumer's own
 *   connection got a publisher confirm for a checkpoint published after the
 *   ack (a confirm covers everything the log took before it), so none of
 *   these may come back;
 * - `deliveries`: every delivery; a message may be delivered again after a
 *   failover (its ack, or even its delivery mark, may not have been durable
 *   yet — as after a single node's crash), but never once its ack was
 *   durable (`resurrected`).
 */
import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { TestCluster } from './harness.js';

export const QUEUE = 'work';
const CHECKPOINTS = 'checkpoints';

export class Workload {
  readonly confirmed = new Set<number>();
  readonly durablyAcked = new Set<number>();
  private pendingAcks: number[] = [];
  readonly deliveries: { id: number; redelivered: boolean }[] = [];
  /** Deliveries of a message whose ack was already durable: must stay empty. */
  readonly resurrected: number[] = [];
  readonly confirmTimes: number[] = [];
  private next = 0;
  private running = true;
  private readonly conns = new Set<ChannelModel>();
  private loops: Promise<void>[] = [];
  reconnects = 0;

  constructor(private readonly cluster: TestCluster) {}

  start(): void {
    this.loops = [this.publisherLoop(), this.consumerLoop()];
  }

  private async connect(): Promise<ChannelModel> {
    for (let attempt = 0; ; attempt++) {
      const live = this.cluster.nodes.filter((n) => n.running && n.amqpPort > 0);
      const node = live[attempt % live.length];
      try {
        if (!node) throw new Error('no live node');
        const conn = await amqp.connect(node.url, { timeout: 2000 });
        conn.on('error', () => undefined);
        this.conns.add(conn);
        conn.once('close', () => this.conns.delete(conn));
        return conn;
      } catch {
        if (!this.running) throw new Error('stopped');
        // A node that is changing roles refuses for a moment: try the next one (bounded by the test's timeout).
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private closed(conn: ChannelModel): Promise<void> {
    return new Promise((resolve) => conn.once('close', () => resolve()));
  }

  /**
   * Runs `session` on a fresh connection (through any live node) again and
   * again until stop(): a session ends when its connection drops or it
   * throws; `ended` runs after each, once its connection is closed.
   */
  private async reconnecting(session: (conn: ChannelModel, gone: Promise<void>) => Promise<void>, ended: () => void): Promise<void> {
    while (this.running) {
      let conn: ChannelModel;
      try {
        conn = await this.connect();
      } catch {
        return;
      }
      try {
        await session(conn, this.closed(conn));
      } catch {
        // connection lost mid-way: reconnect
      }
      await conn.close().catch(() => undefined);
      ended();
    }
  }

  private publisherLoop(): Promise<void> {
    return this.reconnecting(
      async (conn, gone) => {
        const ch = await conn.createConfirmChannel();
        ch.on('error', () => undefined);
        await ch.assertQueue(QUEUE, { durable: true });
        while (this.running) {
          const batch: Promise<void>[] = [];
          for (let i = 0; i < 20; i++) batch.push(this.publishOne(ch));
          await Promise.race([Promise.all(batch), gone]);
          if (!this.conns.has(conn)) break;
        }
      },
      () => this.reconnects++,
    );
  }

  private publishOne(ch: ConfirmChannel): Promise<void> {
    const id = this.next++;
    return new Promise((resolve) => {
      try {
        ch.sendToQueue(QUEUE, Buffer.from(String(id)), { persistent: true }, (err) => {
          if (!err) {
            this.confirmed.add(id);
            this.confirmTimes.push(Date.now());
          }
          resolve();
        });
      } catch {
        resolve();
      }
    });
  }

  private consumerLoop(): Promise<void> {
    return this.reconnecting(
      async (conn, gone) => {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        const checkpoint = await conn.createConfirmChannel();
        checkpoint.on('error', () => undefined);
        await ch.assertQueue(QUEUE, { durable: true });
        await checkpoint.assertQueue(CHECKPOINTS, { durable: true });
        await ch.prefetch(50);
        await ch.consume(QUEUE, (m) => {
          if (!m) return;
          const id = Number(m.content.toString());
          this.deliveries.push({ id, redelivered: m.fields.redelivered });
          if (this.durablyAcked.has(id)) this.resurrected.push(id);
          ch.ack(m);
          this.pendingAcks.push(id);
          if (this.pendingAcks.length >= 25) {
            const acks = this.pendingAcks;
            this.pendingAcks = [];
            checkpoint.sendToQueue(CHECKPOINTS, Buffer.from('cp'), { persistent: true }, (err) => {
              if (!err) for (const a of acks) this.durablyAcked.add(a);
            });
          }
        });
        await gone;
      },
      // Acks taken on a lost connection are not known durable: no checkpoint may vouch for them.
      () => (this.pendingAcks = []),
    );
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const c of this.conns) await c.close().catch(() => undefined);
    await Promise.all(this.loops);
  }

  /** Waits until `n` more messages are confirmed than now. */
  async confirmMore(n: number, timeoutMs = 30_000): Promise<void> {
    const target = this.confirmed.size + n;
    const deadline = Date.now() + timeoutMs;
    while (this.confirmed.size < target) {
      if (Date.now() > deadline) throw new Error(`only ${this.confirmed.size} of ${target} confirmed after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Reads every message left in the queue (acking them); returns id → redelivered flags seen. */
export async function drain(url: string): Promise<{ id: number; redelivered: boolean }[]> {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const out: { id: number; redelivered: boolean }[] = [];
    for (;;) {
      const m = await ch.get(QUEUE, { noAck: true });
      if (!m) break;
      out.push({ id: Number(m.content.toString()), redelivered: m.fields.redelivered });
    }
    return out;
  } finally {
    await conn.close();
  }
}
