/**
 * A queue's storage port in the message log (LogQueueStorage), socket-free:
 * the backlog paged out and back in, in order; a record not yet written is
 * waited for, never read; peeking leaves the backlog as it is; dropping the
 * backlog settles every record (ack records unless the queue was deleted),
 * so its segments can go; compaction sees and repoints backlog references.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeContentHeader } from '../../src/protocol/index.js';
import { LogQueueStorage } from '../../src/store/log-queue-storage.js';
import { MessageLog, type StoredLocation } from '../../src/store/message-log.js';
import type { PagedRecord, PageInTarget } from '../../src/store/queue-storage.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const QUEUE = 3;
const logger = pino({ level: 'silent' });

function openLog(): MessageLog {
  const dir = mkdtempSync(join(tmpdir(), 'warren-queue-storage-'));
  dirs.push(dir);
  return MessageLog.open(dir, new Map([[QUEUE, { messageTtl: undefined }]]), { fsync: false, segmentSize: 64 * 1024, logger }).log;
}

const synced = (log: MessageLog): Promise<void> => new Promise((resolve) => log.whenSynced({ onDurable: () => resolve() }, 0));

function publish(log: MessageLog, text: string, persistent = true): StoredLocation {
  const body = Buffer.from(text);
  return log.publish('ex', 'rk', encodeContentHeader(body.length, { deliveryMode: persistent ? 2 : 1 }), body, body.length, [QUEUE], persistent, Date.now(), undefined);
}

/** Collects what a page-in hands over (copying the reused record's fields). */
function collector(): PageInTarget & { bodies: string[]; records: StoredLocation[]; dropped: number } {
  const got = {
    bodies: [] as string[],
    records: [] as StoredLocation[],
    dropped: 0,
    pagedIn(p: PagedRecord): void {
      got.bodies.push(`${p.exchange}/${p.routingKey}/${p.body.toString()}${p.redelivered ? '*' : ''}`);
      got.records.push(p.record);
    },
    unreadable(): void {
      got.dropped++;
    },
  };
  return got;
}

describe('LogQueueStorage', () => {
  it('pages a backlog out and back in, in order, waiting for records not yet written', async () => {
    const log = openLog();
    const storage = new LogQueueStorage(log, QUEUE, true, 10);
    for (let i = 0; i < 5; i++) storage.pageOut(publish(log, `m${i}`), 0, 2);
    expect(storage.backlogLength).toBe(5);
    const target = collector();
    // Nothing is in the file before the first write: the page-in stops at once, taking nothing.
    expect(storage.pageIn(3, target)).toBe(false);
    expect(target.bodies).toEqual([]);
    await synced(log);
    expect(storage.pageIn(3, target)).toBe(true);
    expect(target.bodies).toEqual(['ex/rk/m0', 'ex/rk/m1', 'ex/rk/m2']);
    expect(storage.backlogLength).toBe(2);
    expect(storage.peekBacklog(10, Date.now()).map((r) => r.body.toString())).toEqual(['m3', 'm4']);
    // Peeking took nothing.
    expect(storage.backlogLength).toBe(2);
    expect(storage.pageIn(10, target)).toBe(true);
    expect(target.bodies.slice(3)).toEqual(['ex/rk/m3', 'ex/rk/m4']);
    expect(target.records.map((r) => r.msgId)).toEqual([1, 2, 3, 4, 5]);
    await log.close();
  });

  it('skips expired backlog messages when peeking', async () => {
    const log = openLog();
    const storage = new LogQueueStorage(log, QUEUE, true, 10);
    const now = Date.now();
    storage.pageOut(publish(log, 'gone'), now - 1, 4);
    storage.pageOut(publish(log, 'kept'), 0, 4);
    await synced(log);
    expect(storage.peekBacklog(10, now).map((r) => r.body.toString())).toEqual(['kept']);
    await log.close();
  });

  it('dropping the backlog releases every record, so the segments can be deleted', async () => {
    const log = openLog();
    const storage = new LogQueueStorage(log, QUEUE, true, 10);
    const records: StoredLocation[] = [];
    for (let i = 0; i < 3; i++) {
      const r = publish(log, `d${i}`);
      records.push(r);
      storage.pageOut(r, 0, 2);
    }
    await synced(log);
    const segment = records[0]!.segment;
    expect(segment.live).toBe(3);
    storage.dropBacklog(false);
    expect(storage.backlogLength).toBe(0);
    expect(segment.live).toBe(0);
    await log.close();
  });

  it('lets compaction find and repoint its backlog references', async () => {
    const log = openLog();
    const storage = new LogQueueStorage(log, QUEUE, true, 10);
    const r = publish(log, 'moved');
    storage.pageOut(r, 0, 5);
    await synced(log);
    const seen: { msgId: number; redelivered: boolean }[] = [];
    storage.backlogIn(r.segment, (record, redelivered, moved) => {
      seen.push({ msgId: record.msgId, redelivered });
      moved(log.copyForward(record, [QUEUE]));
    });
    expect(seen).toEqual([{ msgId: r.msgId, redelivered: false }]);
    await synced(log);
    const target = collector();
    expect(storage.pageIn(1, target)).toBe(true);
    expect(target.bodies).toEqual(['ex/rk/moved']);
    expect(target.records[0]!.offset).not.toBe(r.offset);
    await log.close();
  });
});
