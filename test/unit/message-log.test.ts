/**
 * The message log on its own (no broker, no sockets): what a restart makes of
 * a compaction interrupted between writing its copies and deleting the
 * original segment, and that an unwritten record is never read.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { DefinitionsJournal } from '../../src/store/definitions.js';
import { MessageLog, type StoredLocation } from '../../src/store/message-log.js';
import { encodeContentHeader } from '../../src/protocol/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const QUEUE = 7;
const logger = pino({ level: 'silent' });

function openLog(dir: string): ReturnType<typeof MessageLog.open> {
  return MessageLog.open(dir, new Map([[QUEUE, { messageTtl: undefined }]]), { fsync: false, segmentSize: 64 * 1024, logger });
}

const synced = (log: MessageLog): Promise<void> => new Promise((resolve) => log.whenSynced({ onDurable: () => resolve() }, 0));

function publish(log: MessageLog, body: Buffer): StoredLocation {
  return log.publish('', 'q', encodeContentHeader(body.length, { deliveryMode: 2 }), body, body.length, [QUEUE], true, Date.now(), undefined);
}

/** The msgIds a restart finds in QUEUE, in order. */
function recoveredIds(dir: string): Promise<number[]> {
  const { log, recovered } = openLog(dir);
  const tail = recovered.get(QUEUE)!.tail;
  const ids: number[] = [];
  const ref = { segment: 0, offset: 0, length: 0, msgId: 0, redelivered: false, persistent: false, expiresAt: 0, bodySize: 0 };
  for (let i = 0; tail.peekInto(ref, i); i++) ids.push(ref.msgId);
  return log.close().then(() => ids);
}

/**
 * Segment 1 holds one message that stays; a 70 KB message rolls over to
 * a later segment and is acked. Then the kept message is copied forward, which
 * deletes segment 1 once the copy is synced. Returns the bytes segment 1 had,
 * so a test can put it back as if the broker had stopped before the delete.
 */
async function compactOnce(dir: string, ackCopy: boolean, alsoLive?: string): Promise<{ segment1: Buffer; kept: number; other: number }> {
  const { log } = openLog(dir);
  const kept = publish(log, Buffer.from('kept'));
  const filler = publish(log, Buffer.alloc(70_000, 1));
  await synced(log);
  const segment1Path = join(dir, '00000001.wlog');
  const segment1 = readFileSync(segment1Path);
  log.ack(QUEUE, filler);
  const moved = log.copyForward(kept, [QUEUE]);
  expect(moved.segment.id).toBeGreaterThan(1);
  if (ackCopy) log.ack(QUEUE, moved);
  // Optionally another message that stays, in the segment holding the copy.
  const other = alsoLive === undefined ? null : publish(log, Buffer.from(alsoLive));
  if (other) {
    expect(other.segment).toBe(moved.segment);
    // And move on from that segment, so it is not the current one at the restart.
    const next = publish(log, Buffer.alloc(70_000, 4));
    expect(next.segment).not.toBe(moved.segment);
    log.ack(QUEUE, next);
  }
  await synced(log);
  expect(existsSync(segment1Path)).toBe(false);
  await log.close();
  return { segment1, kept: kept.msgId, other: other?.msgId ?? 0 };
}

describe('message log recovery after an interrupted compaction', () => {
  it('finds a message once when both its original record and its compaction copy are on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
    dirs.push(dir);
    const { segment1, kept } = await compactOnce(dir, false);
    writeFileSync(join(dir, '00000001.wlog'), segment1); // the delete never happened
    expect(await recoveredIds(dir)).toEqual([kept]);
    // And again: the first restart must not have made a second copy of its own.
    expect(await recoveredIds(dir)).toEqual([kept]);
  });

  it('applies an ack made to the copy when the original is on disk too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
    dirs.push(dir);
    const { segment1 } = await compactOnce(dir, true);
    writeFileSync(join(dir, '00000001.wlog'), segment1);
    expect(await recoveredIds(dir)).toEqual([]);
  });

  it('keeps an ack made after the restart until the leftover copy is gone too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
    dirs.push(dir);
    const { segment1, kept, other } = await compactOnce(dir, false, 'other');
    writeFileSync(join(dir, '00000001.wlog'), segment1);
    // After the restart: ack the message (the original in segment 1 is the one recovery kept),
    // then roll over twice so the segment holding the ack is settled and not the current one.
    const { log, recovered } = openLog(dir);
    const ref = { segment: 0, offset: 0, length: 0, msgId: 0, redelivered: false, persistent: false, expiresAt: 0, bodySize: 0 };
    expect(recovered.get(QUEUE)!.tail.peekInto(ref, 0) && ref.msgId).toBe(kept);
    log.ack(QUEUE, { msgId: ref.msgId, segment: log.segmentById(ref.segment)!, offset: ref.offset, length: ref.length, persistent: true });
    for (let i = 0; i < 2; i++) log.ack(QUEUE, publish(log, Buffer.alloc(70_000, 3)));
    await synced(log);
    await log.close();
    // The copy's segment is still there (it holds "other"): the ack must be too.
    expect(await recoveredIds(dir)).toEqual([other]);
  });
});

describe('reading the message log', () => {
  it('refuses to read a record that is not written yet, with an error that says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
    dirs.push(dir);
    const { log } = openLog(dir);
    const loc = publish(log, Buffer.alloc(300_000, 2));
    expect(log.isReadable(loc.segment.id, loc.offset, loc.length)).toBe(false);
    expect(() => log.read(loc.segment.id, loc.offset, loc.length)).toThrow(/not written yet/);
    await synced(log);
    expect(log.isReadable(loc.segment.id, loc.offset, loc.length)).toBe(true);
    expect(log.read(loc.segment.id, loc.offset, loc.length).body.equals(Buffer.alloc(300_000, 2))).toBe(true);
    await log.close();
  });
});

describe('segment deletion waits for the definitions journal', () => {
  it('keeps a deleted queue\'s segment until the journal has synced the queue-delete line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
    dirs.push(dir);
    const { journal } = DefinitionsJournal.open(join(dir, 'definitions.log'), true, logger);
    const { log } = openLog(join(dir, 'messages'));
    log.deletionsWaitFor = journal;
    const held = publish(log, Buffer.from('held'));
    publish(log, Buffer.alloc(70_000, 1)); // rolls over: segment 1 is no longer the current one
    await synced(log);
    const segment1 = join(dir, 'messages', '00000001.wlog');

    // As removeQueue does: the delete line is written (not yet synced), then the queue's records released.
    journal.queueDeleted('/', 'q');
    expect(journal.synced).toBe(false);
    log.release(held);
    expect(existsSync(segment1)).toBe(true); // a crash now restores the queue: its messages must still be there

    await new Promise<void>((resolve) => journal.whenSynced(resolve));
    expect(existsSync(segment1)).toBe(false);
    await log.close();
    await journal.close();
  });
});

describe('queue ids named in the log', () => {
  it('reports the id after the highest one any record names, known queue or not, PUBLISH or mark', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-log-'));
    dirs.push(dir);
    const first = openLog(dir);
    expect(first.nextQueueId).toBe(1);
    const body = Buffer.from('m');
    // A paging copy (not persistent) for queues 7 and 42, then a mark for queue 99 (its PUBLISH long gone).
    first.log.publish('', 'q', encodeContentHeader(body.length, {}), body, body.length, [QUEUE, 42], false, Date.now(), undefined);
    await synced(first.log);
    await first.log.close();
    const second = openLog(dir);
    expect(second.nextQueueId).toBe(43);
    second.log.ack(99, publish(second.log, body));
    await synced(second.log);
    await second.log.close();
    const third = openLog(dir);
    expect(third.nextQueueId).toBe(100);
    await third.log.close();
  });
});
