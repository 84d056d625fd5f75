/**
 * Publisher flow control: a publisher feeding a queue whose consumer cannot
 * keep up (here: a no-ack consumer that stops reading its socket) stops being
 * read once the queue holds more than FLOW_HIGH ready messages, instead of
 * growing the queue as fast as it can send; reading resumes as the queue
 * drains, and every message arrives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, QueueInfo } from '../../src/index.js';
import { FLOW_HIGH } from '../../src/broker/queue.js';
import { MethodId, Constants } from '../../src/protocol/index.js';
import { connect, connectionOf, eventually, queueStats, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';

let broker: Broker;
const conns: AmqpConnection[] = [];
const raws: RawClient[] = [];
afterEach(async () => {
  for (const r of raws.splice(0)) r.destroy();
  await Promise.allSettled(conns.splice(0).map((c) => c.close()));
  await broker.stop();
});

describe('publisher flow control', () => {
  it('pauses a publisher while the queue it feeds is congested, and resumes it as the queue drains', async () => {
    broker = await startBroker();
    const setup = await connect(broker);
    conns.push(setup);
    const ch = await setup.createChannel();
    await ch.assertQueue('flow-q');

    const consumer = await RawClient.open(broker.port);
    raws.push(consumer);
    await consumer.openChannel(1);
    consumer.sendMethod(1, { id: MethodId.BasicConsume, args: { queue: 'flow-q', consumerTag: 'c', noAck: true } });
    await consumer.waitForMethod(MethodId.BasicConsumeOk, 1);
    consumer.socket.pause(); // falls behind: the broker's writes to it back up

    const publisher = await connect(broker);
    conns.push(publisher);
    const pch = await publisher.createChannel();
    const TOTAL = 60_000;
    const body = Buffer.alloc(200, 0x70);
    const port = (publisher.connection as unknown as { stream: { localPort: number } }).stream.localPort;
    const queue = (): QueueInfo => queueStats(broker, 'flow-q');
    let sent = 0;
    const pump = (async () => {
      while (sent < TOTAL) {
        if (!pch.sendToQueue('flow-q', body)) await new Promise((r) => pch.once('drain', r));
        sent++;
        if (sent % 1000 === 0) await new Promise((r) => setImmediate(r));
      }
    })();

    await eventually(() => connectionOf(broker, port).readingPaused, 10_000, 'publisher paused');
    // While paused the queue holds little more than the threshold, not everything sent so far.
    expect(queue().messagesReady).toBeGreaterThan(FLOW_HIGH);
    expect(queue().messagesReady).toBeLessThan(FLOW_HIGH * 4);

    consumer.socket.resume();
    await pump;
    let deliveries = 0;
    await eventually(() => {
      deliveries = consumer.frames.filter((f) => f.type === Constants.FRAME_METHOD && f.method?.id === MethodId.BasicDeliver).length;
      return deliveries === TOTAL;
    }, 60_000, 'all messages delivered');
    expect(queue().messagesReady).toBe(0);
    expect(connectionOf(broker, port).readingPaused).toBe(false);
  }, 90_000); // a fixed workload: a slow or loaded machine needs longer
});
