/**
 * The hammer: consumers on several channels and connections doing seeded
 * random interleavings of consume / ack / ack-multiple / nack-requeue /
 * reject-requeue / hold / cancel / channel close / reconnect while messages
 * with unique ids are published. At the end everything is drained, and every
 * message id must have been acked exactly once, nothing unknown may have
 * arrived, and a message may come without the redelivered flag only the
 * first time.
 *
 * Client-side rules that keep the bookkeeping exact (they are amqplib facts,
 * not broker leniency):
 * - no ackAll/nackAll (tag 0): they would settle deliveries still in flight
 *   to the client, which it would then ack again;
 * - before closing a connection, every channel of it does a round trip:
 *   amqplib multiplexes channels, so an ack queued on one channel could
 *   otherwise be written after connection.close on channel 0.
 */
import amqp, { type Channel, type ConfirmChannel, type ConsumeMessage, type Message } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, sleep, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { prng, sync } from '../helpers/model.js';

let broker: Broker;
beforeAll(async () => { broker = await startBroker(); });
afterAll(() => broker.stop());

const N = 3000;
const QUEUE = 'hammer';

interface WConn { conn: AmqpConnection; channels: WChannel[]; dead: boolean }
interface WChannel { ch: Channel; conn: WConn; held: ConsumeMessage[]; consumers: string[]; dead: boolean }

describe('hammer', () => {
  it('every message is acked exactly once through random consume/ack/nack/reject/cancel/close/reconnect', async () => {
    // WARREN_HAMMER_SEED reruns with another interleaving.
    const rand = prng(Number(process.env.WARREN_HAMMER_SEED ?? 20240601));
    const pick = <T>(xs: readonly T[]): T | undefined => (xs.length === 0 ? undefined : xs[Math.floor(rand() * xs.length)]);
    const acked = new Map<number, number>();
    const seen = new Set<number>();
    const violations: string[] = [];
    const stats = { deliveries: 0, acks: 0, multiAcks: 0, nacks: 0, rejects: 0, holds: 0, redelivered: 0, cancels: 0, channelCloses: 0, reconnects: 0 };
    const conns: WConn[] = [];
    const openConns = new Set<AmqpConnection>();

    const idOf = (m: Message): number => Number(m.properties.messageId);
    const recordAck = (ms: Message[]): void => {
      for (const m of ms) acked.set(idOf(m), (acked.get(idOf(m)) ?? 0) + 1);
      stats.acks += ms.length;
    };
    const check = (m: ConsumeMessage): number => {
      stats.deliveries++;
      const id = idOf(m);
      if (!(Number.isInteger(id) && id >= 0 && id < N) || m.content.toString() !== `m${id}`) violations.push(`unexpected message ${m.properties.messageId} ${m.content.toString()}`);
      if (!m.fields.redelivered && seen.has(id)) violations.push(`${id} delivered again without redelivered`);
      if (acked.has(id)) violations.push(`${id} delivered after it was acked`);
      if (m.fields.redelivered) stats.redelivered++;
      seen.add(id);
      return id;
    };

    const onMessage = (wc: WChannel, m: ConsumeMessage | null): void => {
      if (!m) return void violations.push('unexpected server-side cancel');
      check(m);
      if (wc.dead || wc.conn.dead) return; // about to close: the broker will requeue it
      const r = rand();
      try {
        if (r < 0.5) {
          if (rand() < 0.2 && wc.held.length > 0) {
            // Multiple: covers the held messages before this one (the others with lower tags are settled already).
            wc.ch.ack(m, true);
            const covered = wc.held.filter((h) => h.fields.deliveryTag < m.fields.deliveryTag);
            wc.held = wc.held.filter((h) => h.fields.deliveryTag > m.fields.deliveryTag);
            recordAck([...covered, m]);
            stats.multiAcks++;
          } else {
            wc.ch.ack(m);
            recordAck([m]);
          }
        } else if (r < 0.63) {
          wc.ch.nack(m, false, true);
          stats.nacks++;
        } else if (r < 0.76) {
          wc.ch.reject(m, true);
          stats.rejects++;
        } else {
          wc.held.push(m);
          stats.holds++;
        }
      } catch {
        // The channel closed under us; whatever it held goes back to the queue.
      }
    };

    const addConsumer = async (wc: WChannel): Promise<void> => {
      try {
        const { consumerTag } = await wc.ch.consume(QUEUE, (m) => onMessage(wc, m));
        wc.consumers.push(consumerTag);
      } catch {
        // raced with a close
      }
    };

    const openChannel = async (w: WConn): Promise<void> => {
      const ch = await w.conn.createChannel();
      const wc: WChannel = { ch, conn: w, held: [], consumers: [], dead: false };
      ch.on('error', (err: Error) => { violations.push(`channel error: ${err.message}`); wc.dead = true; });
      ch.on('close', () => { wc.dead = true; });
      const prefetch = pick([0, 1, 3, 10, 50])!;
      if (prefetch > 0) await ch.prefetch(prefetch, rand() < 0.3);
      w.channels.push(wc);
      const consumers = 1 + Math.floor(rand() * 2);
      for (let i = 0; i < consumers; i++) await addConsumer(wc);
    };

    const openConnection = async (): Promise<void> => {
      const conn = await amqp.connect(broker.url(), { noDelay: true });
      conn.on('error', (err: Error) => violations.push(`connection error: ${err.message}`));
      openConns.add(conn);
      conn.on('close', () => openConns.delete(conn));
      const w: WConn = { conn, channels: [], dead: false };
      conns.push(w);
      for (let i = 0; i < 2; i++) await openChannel(w);
    };

    const closeConnection = async (w: WConn): Promise<void> => {
      w.dead = true;
      conns.splice(conns.indexOf(w), 1);
      // Let acks already written on each channel reach the broker before connection.close.
      await Promise.allSettled(w.channels.filter((c) => !c.dead).map((c) => sync(c.ch)));
      await w.conn.close().catch(() => undefined);
    };

    const liveChannels = (): WChannel[] => conns.flatMap((w) => w.channels.filter((c) => !c.dead));

    // ---------------------------------------------------------------- setup
    const admin = await amqp.connect(broker.url(), { noDelay: true });
    openConns.add(admin);
    const adminCh = await admin.createChannel();
    await adminCh.assertQueue(QUEUE, { durable: false });
    await adminCh.purgeQueue(QUEUE);
    for (let i = 0; i < 3; i++) await openConnection();

    // ---------------------------------------------------------------- publisher (paced, confirmed)
    const pubConn = await amqp.connect(broker.url(), { noDelay: true });
    openConns.add(pubConn);
    const pub: ConfirmChannel = await pubConn.createConfirmChannel();
    let published = false;
    const publishing = (async () => {
      for (let id = 0; id < N; id++) {
        if (!pub.sendToQueue(QUEUE, Buffer.from(`m${id}`), { messageId: String(id) })) await new Promise((r) => pub.once('drain', r));
        if (id % 100 === 99) await sleep(40); // pacing: the chaos below runs while messages flow
      }
      await pub.waitForConfirms();
      published = true;
    })();

    // ---------------------------------------------------------------- chaos
    // Runs until everything is published and enough of each kind of chaos
    // happened (counted, not timed: a loaded machine gets through fewer
    // operations per second), for at least 2.5 s; 40 s is a backstop.
    const enoughChaos = (): boolean => stats.cancels > 10 && stats.channelCloses > 10 && stats.reconnects > 3 && stats.multiAcks > 10;
    const started = Date.now();
    while ((!published || Date.now() - started < 2500 || !enoughChaos()) && Date.now() - started < 40_000) {
      await sleep(3);
      const r = rand();
      const wc = pick(liveChannels());
      try {
        if (r < 0.3) {
          // Ack some held messages one by one, in random order.
          if (!wc) continue;
          const n = Math.ceil(rand() * wc.held.length);
          for (let i = 0; i < n && wc.held.length > 0; i++) {
            const [m] = wc.held.splice(Math.floor(rand() * wc.held.length), 1);
            wc.ch.ack(m!);
            recordAck([m!]);
          }
        } else if (r < 0.4) {
          // Requeue the held ones (nack one by one, or reject).
          if (!wc) continue;
          for (const m of wc.held.splice(0)) {
            if (rand() < 0.5) wc.ch.nack(m, false, true);
            else wc.ch.reject(m, true);
          }
        } else if (r < 0.6) {
          // Cancel a consumer, start another somewhere.
          const tag = wc && pick(wc.consumers);
          if (wc && tag) {
            wc.consumers.splice(wc.consumers.indexOf(tag), 1);
            await wc.ch.cancel(tag);
            stats.cancels++;
          }
          const target = pick(liveChannels());
          if (target) await addConsumer(target);
        } else if (r < 0.75) {
          // Close a channel (its unacked messages go back), open a new one on the same connection.
          if (!wc) continue;
          wc.dead = true;
          wc.conn.channels.splice(wc.conn.channels.indexOf(wc), 1);
          wc.held = [];
          await wc.ch.close();
          stats.channelCloses++;
          if (!wc.conn.dead) await openChannel(wc.conn);
        } else if (r < 0.8) {
          // Drop a whole connection and reconnect.
          const w = pick(conns);
          if (!w) continue;
          await closeConnection(w);
          stats.reconnects++;
          await openConnection();
        } else if (wc && wc.held.length > 0 && rand() < 0.5) {
          // Ack multiple up to a random held message.
          const m = wc.held[Math.floor(rand() * wc.held.length)]!;
          wc.ch.ack(m, true);
          const covered = wc.held.filter((h) => h.fields.deliveryTag <= m.fields.deliveryTag);
          wc.held = wc.held.filter((h) => h.fields.deliveryTag > m.fields.deliveryTag);
          recordAck(covered);
          stats.multiAcks++;
        }
      } catch (err) {
        // Operations racing with a close are expected to fail on the client side; anything else is noted.
        if (!/closed|closing|ended/i.test((err as Error).message)) violations.push(`chaos op failed: ${(err as Error).message}`);
      }
      if (conns.length === 0) await openConnection();
    }
    await publishing;

    // ---------------------------------------------------------------- drain
    for (const w of [...conns]) await closeConnection(w);
    const drainer = await amqp.connect(broker.url(), { noDelay: true });
    openConns.add(drainer);
    const dch = await drainer.createChannel();
    dch.on('error', (err: Error) => violations.push(`drain channel error: ${err.message}`));
    await dch.prefetch(200);
    await dch.consume(QUEUE, (m) => {
      if (!m) return;
      check(m);
      dch.ack(m);
      recordAck([m]);
    });
    await eventually(() => acked.size === N, 10_000, `all ${N} acked (have ${acked.size})`);
    // A round trip on the drain channel: any further (duplicate) delivery would have come before its reply.
    const q = await dch.checkQueue(QUEUE);
    await Promise.allSettled([...openConns].map((c) => c.close()));

    // ---------------------------------------------------------------- verdict
    if (process.env.WARREN_HAMMER_STATS) console.log(stats);
    expect(violations).toEqual([]);
    const twice = [...acked].filter(([, n]) => n !== 1);
    expect(twice).toEqual([]);
    expect([...acked.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(q).toMatchObject({ messageCount: 0, consumerCount: 1 });
    expect(stats.acks).toBe(N);
    // The chaos really happened.
    expect(stats.redelivered).toBeGreaterThan(100);
    expect(stats.nacks).toBeGreaterThan(50);
    expect(stats.rejects).toBeGreaterThan(50);
    expect(stats.multiAcks).toBeGreaterThan(10);
    expect(stats.cancels).toBeGreaterThan(10);
    expect(stats.channelCloses).toBeGreaterThan(10);
    expect(stats.reconnects).toBeGreaterThan(3);
  }, 60_000); // a fixed workload: a slow or loaded machine needs longer
});
