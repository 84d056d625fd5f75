import amqp from 'amqplib';
import { Broker } from 'warren';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';

// The code under test: publishes an order event and waits for the broker's confirm.
async function placeOrder(url: string, id: string): Promise<void> {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('orders', { durable: true });
  ch.sendToQueue('orders', Buffer.from(JSON.stringify({ id })), { persistent: true, contentType: 'application/json' });
  await ch.waitForConfirms();
  await conn.close();
}

let broker: Broker;
beforeAll(async () => {
  broker = await Broker.start(); // a free port, everything in memory, only warnings logged
});
afterAll(() => broker.stop());
beforeEach(() => broker.reset()); // no queues, exchanges or connections left from the last test

test('placeOrder queues one persistent JSON message', async () => {
  await placeOrder(broker.url(), 'A-1');
  expect(broker.queues()).toMatchObject([{ name: 'orders', messagesReady: 1, messagesUnacknowledged: 0 }]);
  const [message] = broker.peek('orders'); // looks without consuming
  expect(message?.properties).toMatchObject({ deliveryMode: 2, contentType: 'application/json' });
  expect(JSON.parse(message!.body.toString())).toEqual({ id: 'A-1' });
});

test('a worker takes every order and acks it', async () => {
  const conn = await amqp.connect(broker.url());
  const ch = await conn.createChannel();
  await ch.assertQueue('orders', { durable: true });
  const seen: string[] = [];
  await ch.consume('orders', (m) => {
    if (!m) return;
    seen.push(JSON.parse(m.content.toString()).id);
    ch.ack(m);
  });
  await Promise.all(['B-1', 'B-2', 'B-3'].map((id) => placeOrder(broker.url(), id)));

  await broker.whenIdle({ unacked: true }); // every message routed, delivered and acked: no sleep
  expect(seen.sort()).toEqual(['B-1', 'B-2', 'B-3']);
  expect(broker.queues()).toMatchObject([{ name: 'orders', messages: 0, consumers: 1 }]);
  await conn.close();
});

test('the worker sees the broker drop its connection', async () => {
  const conn = await amqp.connect(broker.url());
  const closed = new Promise<number | undefined>((resolve) => conn.on('close', (err?: { code?: number }) => resolve(err?.code)));
  conn.on('error', () => {}); // amqplib reports the forced close as an error too
  await broker.closeConnections({ code: 320, text: 'CONNECTION_FORCED - test' });
  expect(await closed).toBe(320);
});

test('a broker of its own, stopped at the end of the block', async () => {
  await using tenant = await Broker.start({ vhosts: ['/', 'tenant-a'], users: [{ name: 'app', password: 's3cret' }] });
  const conn = await amqp.connect(tenant.url({ vhost: 'tenant-a' }));
  await (await conn.createChannel()).assertQueue('jobs');
  expect(tenant.queues('tenant-a').map((q) => q.name)).toEqual(['jobs']);
  await conn.close();
});
