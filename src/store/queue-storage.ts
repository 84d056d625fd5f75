/**
 * The storage port of one queue: everything the model asks of storage for a
 * queue goes through this interface (src/broker imports only these types).
 * A queue without storage (null) is a memory queue: its messages never carry
 * a record, so none of this is called for it. The log implementation is
 * LogQueueStorage (store/log-queue-storage.ts).
 *
 * A message routed to a queue with storage may carry a record (its place in
 * the message log), given to it only if the log counted a reference for it
 * (the router decides once, as it writes the record); the queue holds it and
 * from then on tells the storage what happens to it: paged out (backlog),
 * delivered, settled.
 */
import type { StoredLocation } from './message-log.js';
import type { Segment } from './segment.js';

export type { StoredLocation, Segment };

/**
 * The message store as routing sees it: a message is written once for every
 * queue that keeps it (MessageLog implements this).
 */
export interface MessageStore {
  /** Writes a message's record for `queueIds`; `persistent`: a durable queue keeps it (confirmed after the sync). `ttl`: its own TTL (ms) or undefined. */
  publish(exchange: string, routingKey: string, header: Buffer, body: Buffer | readonly Buffer[], bodySize: number, queueIds: readonly number[], persistent: boolean, publishedAt: number, ttl: number | undefined): StoredLocation;
  /** The disk is falling behind the publishers: pause them (flow control). */
  readonly behind: boolean;
  addFlowWaiter(waiter: { flowResumed(): void }): void;
}

/** A backlog record paged back in. Fields are valid during the `pagedIn` call only (the object is reused). */
export interface PagedRecord {
  exchange: string;
  routingKey: string;
  /** Copies (not views of the read-ahead buffer), owned by the caller. */
  header: Buffer;
  body: Buffer;
  redelivered: boolean;
  expiresAt: number;
  record: StoredLocation;
}

/** Where a page-in hands its records (one per queue, made once). */
export interface PageInTarget {
  pagedIn(p: PagedRecord): void;
  /** A record that could not be read back: it is dropped (and released); `where` locates it for the log line. */
  unreadable(bodySize: number, where: Record<string, number>, err: unknown): void;
}

/** A backlog message as a peek sees it (read, not taken). */
export interface PeekedRecord {
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  header: Buffer;
  body: Buffer;
}

export interface QueueStorage {
  /** The queue's id in log records. */
  readonly id: number;
  /**
   * Durable queues keep persistent messages across restarts. Other queues use
   * storage only to page a deep backlog out of memory (recovery ignores them).
   */
  readonly durable: boolean;
  /** Ready messages kept in memory; beyond this the backlog is paged out. */
  readonly memoryWindow: number;
  /** Ready messages held only in storage (paged out), oldest first. */
  readonly backlogLength: number;
  /** A routed message goes to the end of the backlog (the queue is paging). */
  pageOut(record: StoredLocation, expiresAt: number, bodySize: number): void;
  /** First delivery of a message: after a restart it comes back marked redelivered. */
  delivered(record: StoredLocation): void;
  /** The queue is done with a record: acked or dropped (`queueDeleted`: released without an ack record). */
  settle(record: StoredLocation, queueDeleted: boolean): void;
  /**
   * Moves up to `max` backlog messages back into memory, in order, through
   * `target`. Returns false if it stopped at a record not yet written: the
   * queue's logFlushed() is called after the log's next write.
   */
  pageIn(max: number, target: PageInTarget): boolean;
  /** Drops the whole backlog (purge, queue deleted). */
  dropBacklog(queueDeleted: boolean): void;
  /** Up to `count` live backlog messages, oldest first, left where they are; stops at a record not yet written. */
  peekBacklog(count: number, now: number): PeekedRecord[];
  /** Compaction: every backlog reference into `segment` (see store/compaction.ts). */
  backlogIn(segment: Segment, visit: (record: StoredLocation, redelivered: boolean, moved: (to: StoredLocation) => void) => void): void;
}

/** A queue's records held in memory (ready or delivered and unacked), for compaction. */
export interface StoredRecordHolder {
  readonly storage: QueueStorage | null;
  /**
   * Calls `visit` for every in-memory entry whose record is in `segment`:
   * `delivered` when it went out at least once; `moved` repoints the entry.
   */
  recordsIn(segment: Segment, visit: (record: StoredLocation, delivered: boolean, moved: (to: StoredLocation) => void) => void): void;
}
