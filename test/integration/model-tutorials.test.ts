/**
 * The six RabbitMQ tutorials (https://www.rabbitmq.com/tutorials), written as
 * their JavaScript (amqplib) versions are, end to end against Warren.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { Clients, body, consume, settled, within, type Inbox } from '../helpers/model.js';

let broker: Broker;
const clients = new Clients(() => broker);
beforeAll(async () => { broker = await startBroker(); });
afterEach(() => clients.closeAll());
afterAll(() => broker.stop());

describe('RabbitMQ tutorials', () => {
  it('1: hello world', async () => {
    const receiver = await clients.channel();
    await receiver.assertQueue('hello', { durable: false });
    const got = new Promise<ConsumeMessage>((resolve) => {
      void receiver.consume('hello', (m) => { if (m) resolve(m); }, { noAck: true });
    });
    const sender = await clients.channel();
    await sender.assertQueue('hello', { durable: false });
    sender.sendToQueue('hello', Buffer.from('Hello World!'));
    expect(body(await within(got, 10_000, 'hello'))).toBe('Hello World!');
  });

  it('2: work queues with fair dispatch (prefetch 1): the fast worker does more', async () => {
    const tasks = 24;
    const done: Record<string, string[]> = { fast: [], slow: [] };
    // The slow worker is busy with its task until the fast one has done all the
    // others (an event, not a duration: the machine's speed does not matter).
    const worker = async (name: 'fast' | 'slow', busyUntil: () => boolean): Promise<void> => {
      const ch = await clients.channel();
      await ch.assertQueue('task_queue', { durable: true });
      await ch.prefetch(1);
      await ch.consume('task_queue', (m) => {
        if (!m) return;
        void eventually(busyUntil, 10_000, `${name} worker's task`).then(() => {
          done[name]!.push(body(m));
          ch.ack(m);
        });
      }, { noAck: false });
    };
    await worker('slow', () => done.fast!.length === tasks - 1);
    await worker('fast', () => true);
    const producer = await clients.channel();
    await producer.assertQueue('task_queue', { durable: true });
    for (let i = 0; i < tasks; i++) producer.sendToQueue('task_queue', Buffer.from(`task ${i}`), { persistent: true });
    await eventually(() => done.fast!.length + done.slow!.length === tasks, 10_000, 'all tasks done');
    // Prefetch 1: nothing more went to the busy worker; it did the one it held.
    expect(done.slow).toHaveLength(1);
    expect(done.fast).toHaveLength(tasks - 1);
    expect(new Set([...done.fast!, ...done.slow!]).size).toBe(tasks);
    await producer.deleteQueue('task_queue');
  });

  it('3: publish/subscribe: each subscriber with its own exclusive queue gets every message', async () => {
    const subscriber = async (): Promise<Inbox> => {
      const ch = await clients.channel();
      await ch.assertExchange('logs', 'fanout', { durable: false });
      const q = await ch.assertQueue('', { exclusive: true });
      expect(q.queue).toMatch(/^amq\.gen-/);
      await ch.bindQueue(q.queue, 'logs', '');
      return consume(ch, q.queue, { noAck: true });
    };
    const subs = [await subscriber(), await subscriber()];
    const emitter = await clients.channel();
    await emitter.assertExchange('logs', 'fanout', { durable: false });
    const logs = Array.from({ length: 10 }, (_, i) => `log ${i}`);
    for (const l of logs) emitter.publish('logs', '', Buffer.from(l));
    for (const s of subs) {
      await eventually(() => s.messages.length === logs.length, 10_000, 'all logs');
      expect(s.messages.map(body)).toEqual(logs);
    }
  });

  it('4: routing: direct exchange by severity', async () => {
    const subscriber = async (severities: string[]): Promise<Inbox> => {
      const ch = await clients.channel();
      await ch.assertExchange('direct_logs', 'direct', { durable: false });
      const q = await ch.assertQueue('', { exclusive: true });
      for (const s of severities) await ch.bindQueue(q.queue, 'direct_logs', s);
      return consume(ch, q.queue, { noAck: true });
    };
    const errorsOnly = await subscriber(['error']);
    const all = await subscriber(['info', 'warning', 'error']);
    const emitter = await clients.channel();
    await emitter.assertExchange('direct_logs', 'direct', { durable: false });
    const sent: [string, string][] = [['info', 'i1'], ['error', 'e1'], ['warning', 'w1'], ['debug', 'd1'], ['error', 'e2'], ['info', 'i2']];
    for (const [severity, msg] of sent) emitter.publish('direct_logs', severity, Buffer.from(msg));
    await eventually(() => all.messages.length === 5 && errorsOnly.messages.length === 2, 10_000, 'routed logs');
    await settled([emitter], [errorsOnly, all]); // nothing more arrives
    expect(errorsOnly.messages.map((m) => `${m.fields.routingKey}:${body(m)}`)).toEqual(['error:e1', 'error:e2']);
    expect(all.messages.map((m) => `${m.fields.routingKey}:${body(m)}`)).toEqual(['info:i1', 'error:e1', 'warning:w1', 'error:e2', 'info:i2']);
  });

  it('5: topics: *.orange.*, *.*.rabbit and lazy.#', async () => {
    const subscriber = async (keys: string[]): Promise<Inbox> => {
      const ch = await clients.channel();
      await ch.assertExchange('topic_logs', 'topic', { durable: false });
      const q = await ch.assertQueue('', { exclusive: true });
      for (const k of keys) await ch.bindQueue(q.queue, 'topic_logs', k);
      return consume(ch, q.queue, { noAck: true });
    };
    const q1 = await subscriber(['*.orange.*']);
    const q2 = await subscriber(['*.*.rabbit', 'lazy.#']);
    const emitter = await clients.channel();
    await emitter.assertExchange('topic_logs', 'topic', { durable: false });
    // The tutorial's examples and who gets them.
    const cases: [string, boolean, boolean][] = [
      ['quick.orange.rabbit', true, true],
      ['lazy.orange.elephant', true, true],
      ['quick.orange.fox', true, false],
      ['lazy.brown.fox', false, true],
      ['lazy.pink.rabbit', false, true], // matches both of Q2's bindings, delivered once
      ['quick.brown.fox', false, false],
      ['orange', false, false],
      ['quick.orange.male.rabbit', false, false],
      ['lazy.orange.male.rabbit', false, true],
      ['lazy', false, true],
    ];
    for (const [key] of cases) emitter.publish('topic_logs', key, Buffer.from(key));
    const want1 = cases.filter((c) => c[1]).map((c) => c[0]);
    const want2 = cases.filter((c) => c[2]).map((c) => c[0]);
    await eventually(() => q1.messages.length >= want1.length && q2.messages.length >= want2.length, 10_000, 'topic deliveries');
    await settled([emitter], [q1, q2]); // nothing more arrives
    expect(q1.messages.map(body)).toEqual(want1);
    expect(q2.messages.map(body)).toEqual(want2);
  });

  it('6: RPC with reply_to and correlation_id', async () => {
    const fib = (n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2));
    // The server.
    const server = await clients.channel();
    await server.assertQueue('rpc_queue', { durable: false });
    await server.prefetch(1);
    await server.consume('rpc_queue', (m) => {
      if (!m) return;
      const n = Number.parseInt(m.content.toString(), 10);
      server.sendToQueue(m.properties.replyTo as string, Buffer.from(String(fib(n))), { correlationId: m.properties.correlationId as string });
      server.ack(m);
    });
    // The client: one exclusive callback queue, calls matched by correlation id.
    const client: Channel = await clients.channel();
    const callback = await client.assertQueue('', { exclusive: true });
    const pending = new Map<string, (v: number) => void>();
    const stray: ConsumeMessage[] = [];
    await client.consume(callback.queue, (m) => {
      if (!m) return;
      const resolve = pending.get(m.properties.correlationId as string);
      if (!resolve) return void stray.push(m);
      pending.delete(m.properties.correlationId as string);
      resolve(Number(m.content.toString()));
    }, { noAck: true });
    const call = (n: number): Promise<number> =>
      new Promise((resolve) => {
        const correlationId = `${n}-${Math.random().toString(36).slice(2)}`;
        pending.set(correlationId, resolve);
        client.sendToQueue('rpc_queue', Buffer.from(String(n)), { correlationId, replyTo: callback.queue });
      });
    const ns = Array.from({ length: 16 }, (_, i) => i);
    const results = await within(Promise.all(ns.map(call)), 10_000, 'rpc replies');
    expect(results).toEqual(ns.map(fib));
    expect(results.slice(0, 11)).toEqual([0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55]);
    expect(stray).toEqual([]);
    await server.deleteQueue('rpc_queue');
  });
});
