/**
 * Compaction of mostly-dead message-log segments. The log knows how many live
 * references a segment has but not who holds them; the queues do: their
 * in-memory entries (ready, or delivered and unacked) and their backlogs in
 * storage. This finds every holder of a record in the segment, has the log
 * copy the record forward once (for exactly the queues still holding it), and
 * points every holder at the copy. The old file goes when the copies are synced.
 */
import type { Logger } from '../observe/logger.js';
import type { MessageLog, StoredLocation } from './message-log.js';
import type { StoredRecordHolder } from './queue-storage.js';
import type { Segment } from './segment.js';

interface Holders {
  loc: StoredLocation;
  queueIds: number[];
  /** Queue ids that have delivered it at least once (redelivered after a restart). */
  delivered: number[];
  /** Repoint each holder at the copy. */
  moves: ((to: StoredLocation) => void)[];
}

export function compactSegment(queues: Iterable<StoredRecordHolder>, log: MessageLog, segment: Segment, logger: Logger): void {
  const byMsg = new Map<number, Holders>();
  let refs = 0;
  for (const q of queues) {
    const storage = q.storage;
    if (!storage) continue;
    const queueId = storage.id;
    const visit = (loc: StoredLocation, delivered: boolean, moved: (to: StoredLocation) => void): void => {
      let h = byMsg.get(loc.msgId);
      if (!h) byMsg.set(loc.msgId, (h = { loc, queueIds: [], delivered: [], moves: [] }));
      h.queueIds.push(queueId);
      if (delivered) h.delivered.push(queueId);
      h.moves.push(moved);
      refs++;
    };
    q.recordsIn(segment, visit);
    storage.backlogIn(segment, visit);
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
    for (const move of h.moves) move(moved);
    for (const queueId of h.delivered) log.delivered(queueId, moved);
  }
  logger.debug({ segment: segment.id, messages: byMsg.size, refs }, 'message log: compacted segment');
}
