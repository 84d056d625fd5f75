/**
 * Crash containment: a failure in background work — a queue's TTL timer, the
 * message log's compaction, a metrics request — is logged at error with what
 * failed and on what, and the broker keeps serving. (Without the guards each
 * of these was an uncaught exception: the end of the process.)
 *
 * Two faults are injected, because the code they would come from is correct
 * today: dead-lettering that throws (replaced on the vhost), and a segment
 * file cut short behind the broker's back (as a failing disk would).
 */
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GetMessage } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker } from '../helpers/broker.js';
import { capturingLogger, errorLines } from '../helpers/log-capture.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The broker still routes, confirms and delivers. */
async function stillServes(broker: Broker, queue: string): Promise<void> {
  const conn = await connect(broker);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  ch.sendToQueue(queue, Buffer.from('after'), { persistent: true });
  await ch.waitForConfirms();
  const m = await ch.get(queue, { noAck: true });
  expect(m && m.content.toString()).toBe('after');
  await conn.close();
}

describe('crash containment', () => {
  it('a TTL timer whose dead-lettering throws: logged with the queue, the message is gone, the broker serves on', async () => {
    const { logger, lines } = capturingLogger();
    const broker = await startBroker({ logger });
    const vhost = broker.vhosts.get('/')!;
    vhost.deadLetter = () => {
      throw new Error('injected dead-letter failure');
    };
    const conn = await connect(broker);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('dies', { arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': 'amq.fanout' } });
    ch.sendToQueue('dies', Buffer.from('x'));
    await ch.waitForConfirms();
    await eventually(() => errorLines(lines).length > 0, 10_000, 'the error log line');
    const [line] = errorLines(lines);
    expect(line).toMatchObject({ level: 50, task: 'message TTL expiry', queue: 'dies', err: { message: 'injected dead-letter failure' } });
    expect((await ch.checkQueue('dies')).messageCount).toBe(0);
    await conn.close();
    await stillServes(broker, 'after-ttl');
    await broker.stop();
  });

  it('compaction that cannot read its segment: logged with the segment, publishing and consuming go on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-contain-'));
    dirs.push(dir);
    const { logger, lines } = capturingLogger();
    const broker = await startBroker({ logger, dataDir: dir, segmentSize: 64 * 1024, fsync: false });
    const conn = await connect(broker);
    const pub = await conn.createConfirmChannel();
    await pub.assertQueue('c', { durable: true });
    // One message held unacked keeps segment 1 alive and makes it worth compacting.
    pub.sendToQueue('c', Buffer.from('held'), { persistent: true });
    await pub.waitForConfirms();
    const holder = await conn.createChannel();
    const held = await holder.get('c');
    expect(held && held.content.toString()).toBe('held');
    // The disk loses the file's contents (later writes to it leave a hole of zeros).
    truncateSync(join(dir, 'messages', '00000001.wlog'), 4);

    // Traffic that rolls over segments: each roll offers segment 1 to compaction.
    const worker = await conn.createChannel();
    for (let i = 0; i < 8; i++) {
      pub.sendToQueue('c', Buffer.alloc(30_000, i), { persistent: true });
      await pub.waitForConfirms();
      const m = await worker.get('c');
      worker.ack(m as GetMessage);
    }
    await eventually(() => errorLines(lines).some((l) => l.task === 'message log compaction'), 10_000, 'the compaction error');
    const line = errorLines(lines).find((l) => l.task === 'message log compaction')!;
    expect(line).toMatchObject({ segment: 1 });
    expect(String((line.err as { message: string }).message)).toMatch(/cut short|corrupt/);
    await stillServes(broker, 'c');
    holder.ack(held as GetMessage);
    await conn.close();
    await broker.stop();
  });

  it('a metrics request whose target is not a URL: 400, logged, the endpoint and the broker serve on', async () => {
    const { logger, lines } = capturingLogger();
    const broker = await startBroker({ logger, prometheus: { port: 0 } });
    const port = broker.prometheusHttpPort;
    const status = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1', () => socket.write('GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(text.split('\r\n')[0]!));
      socket.on('error', reject);
    });
    expect(status).toBe('HTTP/1.1 400 Bad Request');
    expect(errorLines(lines)).toMatchObject([{ msg: 'metrics request failed', url: 'http://[' }]);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    await stillServes(broker, 'after-metrics');
    await broker.stop();
  });
});

describe('crash containment on socket events', () => {
  it("a client's socket closing while its unacked delivery cannot be requeued: logged with the connection, the broker serves on", async () => {
    const { logger, lines } = capturingLogger();
    const broker = await startBroker({ logger });
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    await ch.assertQueue('held');
    ch.sendToQueue('held', Buffer.from('x'));
    const delivered = new Promise<void>((resolve) => void ch.consume('held', () => resolve(), { noAck: false }));
    await delivered;
    // Injected: the queue refuses the requeue that releasing the closed connection asks for.
    const queue = broker.vhosts.get('/')!.queues.get('held')!;
    queue.requeue = () => {
      throw new Error('injected requeue failure');
    };
    // The socket goes without a close handshake (the 'close' event path, not connection.close).
    (conn as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await eventually(() => errorLines(lines).length > 0, 10_000, 'the error log line');
    expect(errorLines(lines)[0]).toMatchObject({ level: 50, task: 'releasing a closed connection', err: { message: 'injected requeue failure' } });
    await stillServes(broker, 'after-close');
    await broker.stop();
  });
});
