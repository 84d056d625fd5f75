import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker } from '../helpers/broker.js';

describe('smoke', () => {
  let broker: Broker;
  beforeAll(async () => { broker = await startBroker(); });
  afterAll(async () => { await broker.stop(); });

  it('publishes and consumes through amqplib', async () => {
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    const q = await ch.assertQueue('', { exclusive: true });
    expect(q.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
    ch.sendToQueue(q.queue, Buffer.from('hello'), { contentType: 'text/plain', headers: { a: 1 } });
    const msg = await new Promise<import('amqplib').ConsumeMessage>((resolve) => {
      void ch.consume(q.queue, (m) => { if (m) resolve(m); });
    });
    expect(msg.content.toString()).toBe('hello');
    expect(msg.properties.contentType).toBe('text/plain');
    expect(msg.properties.headers).toEqual({ a: 1 });
    ch.ack(msg);
    await conn.close();
  });
});
