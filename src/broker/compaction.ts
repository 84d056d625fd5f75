/**
 * Compaction of mostly-dead message-log segments. The log knows how many live
 * references a segment has but not who holds them; the model does: queues'
 * in-memory heads, their on-disk tails, and their deliveries awaiting ack.
 * This finds every holder of a record in the segment, has the log copy the
 * record forward once (for exactly the queues still holding it), and points
 * every holder at the copy. The old file goes when the copies are synced.
 */
import type { QueueEntry } from './message.js';
import type { DiskTail } from '../store/disk-tail.js';
import type { MessageLog, StoredLocation } from '../store/message-log.js';
import type { Segment } from '../store/segment.js';
import type { VirtualHost } from './virtual-host.js';
import type { Logger } from '../observe/logger.js';

interface Holders {
  loc: StoredLocation;
  queueIds: number[];
  /** Queue ids that have delivered it at least once (redelivered after a restart). */
  delivered: number[];
  /** Queue entries (ready, or delivered and unacked) pointing at it. */
  entries: QueueEntry[];
  tails: { tail: DiskTail; index: number; redelivered: boolean; queueId: number }[];
}

export function compactSegment(vhosts: Iterable<VirtualHost>, log: MessageLog, segment: Segment, logger: Logger): void {
  const byMsg = new Map<number, Holders>();
  let refs = 0;
  const holdersOf = (loc: StoredLocation): Holders => {
    let h = byMsg.get(loc.msgId);
    if (!h) byMsg.set(loc.msgId, (h = { loc, queueIds: [], delivered: [], entries: [], tails: [] }));
    return h;
  };
  for (const vhost of vhosts) {
    for (const q of vhost.queues.values()) {
      const store = q.store;
      if (!store) continue;
      for (const entry of q.ready) {
        const loc = entry.record;
        if (loc === null || loc.segment !== segment) continue;
        const h = holdersOf(loc);
        h.queueIds.push(store.id);
        if (entry.redelivered) h.delivered.push(store.id);
        h.entries.push(entry);
        refs++;
      }
      q.tail?.forEachIn(segment.id, (index, ref) => {
        const h = holdersOf({ msgId: ref.msgId, segment, offset: ref.offset, length: ref.length, persistent: ref.persistent });
        h.queueIds.push(store.id);
        h.tails.push({ tail: q.tail!, index, redelivered: ref.redelivered, queueId: store.id });
        if (ref.redelivered) h.delivered.push(store.id);
        refs++;
      });
      // Delivered and awaiting ack: still referenced, and delivered at least once.
      for (const entry of q.unackedWithRecord()) {
        const loc = entry.record;
        if (loc === null || loc.segment !== segment) continue;
        const h = holdersOf(loc);
        h.queueIds.push(store.id);
        h.delivered.push(store.id);
        h.entries.push(entry);
        refs++;
      }
    }
  }
  if (refs !== segment.live) {
    // Someone holds a reference we cannot see (or the count is off): leave the segment be.
    logger.debug({ segment: segment.id, found: refs, live: segment.live }, 'message log: compaction skipped');
    log.compactionAbandoned(segment); // offered again at the next roll-over
    return;
  }
  for (const h of byMsg.values()) {
    if (!log.isReadable(segment.id, h.loc.offset, h.loc.length)) {
      // The log offers only fully written segments; never read past what is in the file.
      logger.error({ segment: segment.id, offset: h.loc.offset, length: h.loc.length, written: segment.written }, 'message log: compaction found an unwritten record; segment left as it is');
      log.compactionAbandoned(segment);
      return;
    }
  }
  for (const h of byMsg.values()) {
    const moved = log.copyForward(h.loc, h.queueIds);
    for (const entry of h.entries) entry.record = moved;
    for (const t of h.tails) t.tail.relocate(t.index, moved.segment.id, moved.offset, moved.length);
    for (const queueId of h.delivered) log.delivered(queueId, moved);
  }
  logger.debug({ segment: segment.id, messages: byMsg.size, refs }, 'message log: compacted segment');
}
