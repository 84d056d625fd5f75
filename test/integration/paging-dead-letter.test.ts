/**
 * Which queues hold a publish's log record is decided once, when the record is
 * written: a dead-letter routed in the middle of that publish can push another
 * of its queues over its memory window, and that queue must then keep the
 * message the way it was counted (in memory, no record) rather than page out
 * a record the log never counted for it (whose segment could then be deleted
 * under it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, startBroker } from '../helpers/broker.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('paging decided once per publish', () => {
  it('a queue pushed into paging by a dead-letter during the same publish keeps that publish', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-paging-dlx-'));
    dirs.push(dir);
    const broker = await startBroker({ dataDir: dir, queueMemoryWindow: 3, segmentSize: 64 * 1024, fsync: false });
    try {
      const conn = await connect(broker);
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange('dlx', 'fanout', { durable: false });
      await ch.assertExchange('fan', 'fanout', { durable: false });
      // full: durable, refuses everything and dead-letters it to `scratch` (in the same route).
      await ch.assertQueue('full', { durable: true, arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': 'dlx' } });
      await ch.assertQueue('scratch', { durable: false });
      await ch.assertQueue('filler', { durable: true });
      await ch.bindQueue('scratch', 'dlx', '');
      await ch.bindQueue('full', 'fan', '');
      await ch.bindQueue('scratch', 'fan', '');
      // scratch one short of its window: not paging when the publish below is logged.
      for (const b of ['s1', 's2']) ch.sendToQueue('scratch', Buffer.from(b));
      await ch.waitForConfirms();

      // Persistent: logged for `full` only (durable); `full` refuses it (nack) and releases the record.
      const big = Buffer.alloc(40 * 1024, 'b');
      const acked = await new Promise<boolean>((resolve) => ch.publish('fan', '', big, { persistent: true, messageId: 'big' }, (err) => resolve(err === null || err === undefined)));
      expect(acked).toBe(false);
      // More records roll the log over: a segment nobody counts a reference in is deleted.
      for (let i = 0; i < 3; i++) ch.sendToQueue('filler', Buffer.alloc(40 * 1024, 'f'), { persistent: true });
      await ch.waitForConfirms();

      const got: { body: string; reason: string }[] = [];
      for (;;) {
        const m = await ch.get('scratch', { noAck: true });
        if (!m) break;
        const death = (m.properties.headers?.['x-death'] as { reason: string }[] | undefined)?.[0];
        got.push({ body: m.content.length > 100 ? `${m.properties.messageId}:${m.content.length}:${m.content.every((c) => c === 0x62)}` : m.content.toString(), reason: death?.reason ?? '' });
      }
      expect(got).toEqual([
        { body: 's1', reason: '' },
        { body: 's2', reason: '' },
        { body: 'big:40960:true', reason: 'maxlen' },
        { body: 'big:40960:true', reason: '' },
      ]);
      await conn.close();
    } finally {
      await broker.stop();
    }
  });
});
