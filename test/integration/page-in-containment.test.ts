/**
 * A page-in that cannot read its record (a segment file damaged behind the
 * broker's back, as a failing disk would) is contained: logged at error with
 * the queue and the record, the record skipped, and the broker serves on.
 * Page-ins also run from socket events (a consumer's connection dropping
 * hands its messages to the next consumer): an exception there had no
 * caller to go to and ended the process.
 */
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumeMessage } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, eventually, startBroker } from '../helpers/broker.js';
import { capturingLogger, errorLines } from '../helpers/log-capture.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('page-in containment', () => {
  it('a consumer dropping hands over to one whose page-in hits a damaged segment: logged, skipped, the broker serves on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-pagein-'));
    dirs.push(dir);
    const { logger, lines } = capturingLogger();
    const broker = await startBroker({ logger, dataDir: dir, queueMemoryWindow: 2, fsync: false });
    const pubConn = await connect(broker);
    const pub = await pubConn.createConfirmChannel();
    await pub.assertQueue('sac', { durable: true, arguments: { 'x-single-active-consumer': true } });
    for (let i = 1; i <= 6; i++) pub.sendToQueue('sac', Buffer.from(`m${i}`), { persistent: true });
    await pub.waitForConfirms();
    const q = broker.vhosts.get('/')!.queues.get('sac')!;
    expect(q.ready.length).toBe(2); // m1, m2 in memory; m3..m6 on disk only

    // The active consumer holds m1; the standby has credit but gets nothing while it waits.
    const connA = await connect(broker);
    const chA = await connA.createChannel();
    await chA.prefetch(1);
    const gotA = new Promise<string>((resolve) => void chA.consume('sac', (m) => resolve((m as ConsumeMessage).content.toString())));
    expect(await gotA).toBe('m1');
    const connB = await connect(broker);
    connB.on('error', () => undefined);
    const chB = await connB.createChannel();
    await chB.prefetch(10);
    const gotB: string[] = [];
    await chB.consume('sac', (m) => void gotB.push((m as ConsumeMessage).content.toString()), { noAck: true });

    // The disk loses the segment's contents: m3..m6 can no longer be read.
    truncateSync(join(dir, 'messages', '00000001.wlog'), 4);
    // A drops without a close (its socket reset): the broker releases it from the socket's event.
    const socketA = (connA as unknown as { connection: { stream: Socket } }).connection.stream;
    connA.on('error', () => undefined);
    socketA.resetAndDestroy();

    await eventually(() => gotB.length >= 2, 10_000, 'm1 and m2 at the new active consumer');
    expect(gotB.slice(0, 2)).toEqual(['m1', 'm2']);
    await eventually(() => errorLines(lines).some((l) => l.task === 'paging in'), 10_000, 'the page-in error');
    const line = errorLines(lines).find((l) => l.task === 'paging in')!;
    expect(line).toMatchObject({ queue: 'sac', segment: 1 });
    expect(String((line.err as { message: string }).message)).toMatch(/cut short|corrupt/);
    expect(q.messageCount).toBe(0); // the unreadable records are skipped, not left to fail again
    expect(broker.connections().length).toBe(2); // A released; B and the publisher remain

    // The broker serves on: a new message reaches B.
    pub.sendToQueue('sac', Buffer.from('after'), { persistent: true });
    await pub.waitForConfirms();
    await eventually(() => gotB.includes('after'), 10_000, 'a message after the failure');
    await connB.close();
    await pubConn.close();
    await broker.stop();
  });
});
