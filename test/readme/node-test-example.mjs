import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import amqp from 'amqplib';
import { Broker } from 'warren';

let broker;
before(async () => {
  broker = await Broker.start();
});
after(() => broker.stop());
beforeEach(() => broker.reset());

test('a message sent is a message queued', async () => {
  const conn = await amqp.connect(broker.url());
  const ch = await conn.createChannel();
  await ch.assertQueue('greetings');
  ch.sendToQueue('greetings', Buffer.from('hello'), { messageId: 'g-1' });
  await broker.whenIdle();
  const [message] = broker.peek('greetings');
  assert.equal(message.body.toString(), 'hello');
  assert.equal(message.properties.messageId, 'g-1');
  assert.deepEqual(broker.connections().map((c) => c.user), ['guest']);
  await conn.close();
});

test('reset() left nothing behind', () => {
  assert.deepEqual(broker.queues(), []);
  assert.deepEqual(broker.connections(), []);
});
