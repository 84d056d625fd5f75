/**
 * The persistent message log: append-only segment files in `<data>/messages/`.
 *
 * - A message routed to several durable queues is written once (one PUBLISH
 *   record naming every queue); acks and first deliveries are small records.
 * - Group commit: records appended while a write+fdatasync is in flight wait
 *   for the next one; a lone append is written at once (setImmediate, no timer).
 *   Waiters (publisher confirms, tx.commit) are told only after fdatasync returns.
 * - Every segment counts its live queue references; a rolled-over segment whose
 *   count drops to zero is deleted, so disk use follows the live backlog.
 * - A segment also stays while the acks in it are needed (see Segment), and a
 *   mostly dead one (by bytes) has its few live records copied forward.
 * - Recovery (log-recovery.ts) replays the segments in order.
 */
import { closeSync, existsSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../observe/logger.js';
import { defaultLogFileIo, isDiskFull, writevAll, WRITE_RETRY_INTERVAL, type LogFileIo } from './log-io.js';
import { replaySegments, type RecoverableQueue, type RecoveredQueue } from './log-recovery.js';
import { compactionCandidates, Segment, type StoredLocation } from './segment.js';
import { reportFailure, runGuarded } from '../observe/guard.js';
import { encodeMark, encodePublish, FLAG_PERSISTENT, NO_TTL, RecordType, type DecodedPublish } from './records.js';
import { RecordReader } from './record-reader.js';
import { WriteBacklog } from './write-backlog.js';
import type { StoreReplication } from './replication.js';
import type { DurableWaiter } from './durability-port.js';

export type { RecoverableQueue, RecoveredQueue };

export const DEFAULT_SEGMENT_SIZE = 8 * 1024 * 1024;

export type { StoredLocation } from './segment.js';

export interface MessageLogOptions {
  fsync: boolean;
  segmentSize?: number;
  logger: Logger;
  /** File operations for writing (default node:fs); tests inject write failures here. */
  io?: LogFileIo;
  /** ms between retries of a write that failed for lack of space (default WRITE_RETRY_INTERVAL). */
  retryInterval?: number;
}

interface PendingWrite {
  segment: Segment;
  buffers: Buffer[];
  bytes: number;
}

const segmentName = (id: number): string => `${String(id).padStart(8, '0')}.wlog`;

export class MessageLog {
  private readonly segments = new Map<number, Segment>();
  private current!: Segment;
  private nextMsgId = 1;
  private pending: PendingWrite[] = [];
  private waiters: (DurableWaiter | number)[] = [];
  private flushQueued = false;
  /** A segment worth compacting still had unwritten records: offer again after the next flush. */
  private compactionDeferred = false;
  private flushing = false;
  private closed = false;
  private failed: Error | null = null;
  private readonly segmentSize: number;
  /** Reads records back (page-in, peek, compaction) through a read-ahead window. */
  private readonly reader = new RecordReader();
  /** Called after each flush so queues waiting to page in unwritten records can go on. */
  onFlushed: (() => void) | null = null;
  /** Called once if a write or sync fails for a reason other than lack of space: the broker cannot keep its promises any more. */
  onFailure: ((err: Error) => void) | null = null;
  /** A write failed for lack of space (first failure of an episode): the records wait in memory and the write is retried. */
  onWriteFailed: ((err: Error) => void) | null = null;
  /** A write succeeded again after onWriteFailed. */
  onWriteRecovered: (() => void) | null = null;
  /** File operations used for writing (options.io: tests inject faults through it). */
  private readonly io: LogFileIo;
  /** The error of the failing write episode (disk full), until a write succeeds again. */
  private writeError: Error | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Set while close() waits for the last flush (or for giving up on a full disk). */
  private closeResolve: (() => void) | null = null;
  /** Bytes appended but not yet written and synced. */
  private readonly backlog = new WriteBacklog();
  /** Called (asynchronously) with a mostly-dead segment; the owner of the references copies them forward. */
  onCompactable: ((segment: Segment) => void) | null = null;
  /** Cluster leader: every write and deletion is streamed to followers, and sync waiters also wait for their acks. */
  replication: StoreReplication | null = null;
  /** Segments go only once this (the definitions journal) is synced: a crash must not restore a deleted queue without its messages. */
  deletionsWaitFor: { readonly synced: boolean; whenSynced(done: () => void): void } | null = null;
  private deletionsDeferred = false;

  private constructor(readonly dir: string, private readonly options: MessageLogOptions) {
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.io = options.io ?? defaultLogFileIo();
  }

  /**
   * Opens the log, replaying every segment. `queueIds` are the durable queues
   * that still exist; messages for any other id are dropped.
   */
  static open(dir: string, queues: ReadonlyMap<number, RecoverableQueue>, options: MessageLogOptions): { log: MessageLog; recovered: Map<number, RecoveredQueue>; nextQueueId: number } {
    mkdirSync(dir, { recursive: true });
    const log = new MessageLog(dir, options);
    const { recovered, nextQueueId } = log.recover(queues);
    return { log, recovered, nextQueueId };
  }

  private recover(queues: ReadonlyMap<number, RecoverableQueue>): { recovered: Map<number, RecoveredQueue>; nextQueueId: number } {
    const replay = replaySegments(this.dir, queues, this.options.logger);
    for (const s of replay.segments) this.segments.set(s.id, s);
    this.nextMsgId = replay.nextMsgId;
    const last = replay.segments[replay.segments.length - 1];
    if (!last) this.current = this.newSegment(1);
    else {
      this.current = last;
      this.rollIfFull(0);
    }
    this.deleteSettled();
    this.options.logger.info({ segments: this.segments.size, messages: replay.messages, queues: replay.recovered.size }, 'message log recovered');
    return { recovered: replay.recovered, nextQueueId: replay.nextQueueId };
  }

  private newSegment(id: number): Segment {
    const path = join(this.dir, segmentName(id));
    const fd = openSync(path, existsSync(path) ? 'r+' : 'wx+', 0o600);
    const s = new Segment(id, path, fd, 0);
    this.segments.set(id, s);
    return s;
  }

  private rollIfFull(nextRecord: number): void {
    if (this.current.size > 0 && this.current.size + nextRecord > this.segmentSize) {
      const old = this.current;
      try {
        this.current = this.newSegment(old.id + 1);
      } catch (err) {
        // No room for a new file (disk full): the current segment grows past its size
        // for now, and the next append tries again.
        if (!this.writeError) this.options.logger.error({ err, segment: old.id }, 'message log: cannot start a new segment; appending to the current one');
        return;
      }
      this.deleteSettled();
      this.offerCompaction();
    }
  }

  /**
   * Offers the owner every rolled-over segment that is mostly dead by bytes
   * (see Segment). One whose records are not all in the file yet is offered
   * after the flush that writes them: compaction reads what it copies.
   */
  private offerCompaction(): void {
    this.compactionDeferred = false;
    if (!this.onCompactable) return;
    const { ready, waiting } = compactionCandidates(this.segments, this.current);
    this.compactionDeferred = waiting;
    for (const s of ready) {
      s.compacting = true;
      setImmediate(() => {
        if (this.segments.get(s.id) !== s || this.closed) return;
        // A compaction that fails leaves the records where they were (each is moved only
        // once its copy is appended): log it, and let the segment be offered again later.
        const done = runGuarded(this.options.logger, 'message log compaction', { segment: s.id, live: s.live, liveBytes: s.liveBytes, size: s.size }, () => this.onCompactable?.(s));
        if (!done) this.compactionAbandoned(s);
      });
    }
  }

  /** Compaction chose a segment but could not finish: it may be offered again. */
  compactionAbandoned(segment: Segment): void {
    segment.compacting = false;
  }

  /**
   * Copies a live record forward into the current segment for the queues that
   * still hold it, moving their references; the old segment is deleted once the
   * copy is durable. Returns the new location.
   */
  copyForward(old: StoredLocation, queueIds: readonly number[]): StoredLocation {
    // read() refuses a record that is not (all) in the file yet.
    const rec = this.read(old.segment.id, old.offset, old.length);
    const body = Buffer.from(rec.body);
    const meta = { msgId: old.msgId, flags: old.persistent ? FLAG_PERSISTENT : 0, queueIds, publishedAt: rec.publishedAt, ttl: rec.ttl };
    const copy = encodePublish(meta, rec.exchange, rec.routingKey, Buffer.from(rec.header), body, body.length);
    this.rollIfFull(copy.length);
    const segment = this.current;
    const offset = segment.size;
    this.append(segment, copy.head, copy.length);
    if (body.length > 0) this.pendingFor(segment).buffers.push(body);
    segment.addReference(copy.length, queueIds.length);
    old.segment.dropReference(old.length, queueIds.length);
    if (!old.segment.pinned) {
      old.segment.pinned = true;
      this.whenSynced({ onDurable: () => { old.segment.pinned = false; this.deleteSettled(); } }, 0);
    }
    return { msgId: old.msgId, segment, offset, length: copy.length, persistent: old.persistent };
  }

  // ------------------------------------------------------------------ appending

  /** Logs a message for the given durable queues; returns where it is. `ttl` is its own TTL (ms) or undefined. */
  publish(exchange: string, routingKey: string, header: Buffer, body: Buffer | readonly Buffer[], bodySize: number, queueIds: readonly number[], persistent: boolean, publishedAt: number, ttl: number | undefined): StoredLocation {
    const msgId = this.nextMsgId++;
    const meta = { msgId, flags: persistent ? FLAG_PERSISTENT : 0, queueIds, publishedAt, ttl: ttl ?? NO_TTL };
    const rec = encodePublish(meta, exchange, routingKey, header, body, bodySize);
    this.rollIfFull(rec.length);
    const segment = this.current;
    const offset = segment.size;
    this.append(segment, rec.head, rec.length);
    for (const c of rec.body) if (c.length > 0) this.pendingFor(segment).buffers.push(c);
    segment.addReference(rec.length, queueIds.length);
    return { msgId, segment, offset, length: rec.length, persistent };
  }

  /** A queue is done with a message (acked, or dropped by purge): log it and release the reference. */
  ack(queueId: number, loc: StoredLocation): void {
    if (loc.persistent) this.appendMark(RecordType.Ack, queueId, loc);
    this.release(loc);
  }

  /** First delivery of a persistent message: after a restart it comes back marked redelivered. */
  delivered(queueId: number, loc: StoredLocation): void {
    if (loc.persistent) this.appendMark(RecordType.Delivered, queueId, loc);
  }

  /** Drops a queue reference without a record (its queue was deleted; recovery ignores unknown queues). */
  release(loc: Pick<StoredLocation, 'segment' | 'length'>): void {
    loc.segment.dropReference(loc.length);
    if (loc.segment.live === 0) this.deleteSettled();
  }

  segmentById(id: number): Segment | undefined {
    return this.segments.get(id);
  }

  private appendMark(type: number, queueId: number, loc: StoredLocation): void {
    const b = encodeMark(type, queueId, loc.msgId);
    this.rollIfFull(b.length);
    this.current.addMarkFor(loc.segment);
    this.append(this.current, b, b.length);
  }

  private pendingFor(segment: Segment): PendingWrite {
    const last = this.pending[this.pending.length - 1];
    if (last && last.segment === segment) return last;
    const p: PendingWrite = { segment, buffers: [], bytes: 0 };
    this.pending.push(p);
    return p;
  }

  private append(segment: Segment, head: Buffer, recordLength: number): void {
    if (this.failed) throw this.failed;
    const p = this.pendingFor(segment);
    p.buffers.push(head);
    p.bytes += recordLength;
    segment.size += recordLength;
    this.backlog.bytes += recordLength;
    this.scheduleFlush();
  }

  /** Flow control: the disk is falling behind the publishers (see WriteBacklog). */
  get behind(): boolean {
    return this.backlog.behind;
  }

  addFlowWaiter(waiter: { flowResumed(): void }): void {
    this.backlog.addWaiter(waiter);
  }

  /** True when everything appended so far is durable. */
  get synced(): boolean {
    return this.pending.length === 0 && !this.flushing;
  }

  /** `waiter.onDurable(token)` once everything appended so far is durable (at once if it already is). */
  whenSynced(waiter: DurableWaiter, token: number): void {
    if (this.synced) {
      if (this.replication) this.replication.gate.whenReplicated(() => waiter.onDurable(token));
      else waiter.onDurable(token);
      return;
    }
    this.waiters.push(waiter, token);
  }

  private scheduleFlush(): void {
    // While writes fail for lack of space, only the retry timer writes (not every append).
    if (this.flushQueued || this.flushing || this.writeError) return;
    this.flushQueued = true;
    setImmediate(this.scheduledFlush);
  }

  /** flush() run from setImmediate: a throw there has no caller, so it is contained and logged. */
  private readonly scheduledFlush = (): void => {
    runGuarded(this.options.logger, 'message log flush', { pending: this.pending.length }, () => this.flush());
  };

  /** Writes every pending record, fdatasyncs each touched segment, then releases the waiters of this batch. */
  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0 || this.flushing || this.closed) return;
    this.flushing = true;
    const batch = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    let i = 0;
    // Writes before `unsyncedFrom` are durable (`durableBytes`); a failure rewrites from
    // there, at the position its segment had (after a failed fdatasync the written pages
    // may be gone, so written-but-unsynced records are written again).
    let unsyncedFrom = 0;
    let unsyncedPosition = batch[0]!.segment.written;
    let durableBytes = 0;
    const synced = (err: Error | null): void => {
      if (err) return next(err);
      for (let k = unsyncedFrom; k < i; k++) durableBytes += batch[k]!.bytes;
      unsyncedFrom = i;
      if (i < batch.length) unsyncedPosition = batch[i]!.segment.written;
      next(null);
    };
    const next = (err: Error | null): void => {
      if (err) return this.flushFailed(err, batch.slice(unsyncedFrom), unsyncedPosition, waiters, durableBytes);
      if (i === batch.length) return this.flushDone(waiters, durableBytes);
      const w = batch[i++]!;
      const position = w.segment.written;
      writevAll(this.io.writev, w.segment.fd, w.buffers, position, (werr) => {
        if (werr) return next(werr);
        w.segment.written = position + w.bytes;
        this.replication?.sink.appended(w.segment.path, position, w.buffers);
        // The next write may be to the same segment: sync once, after its last write.
        const nextWrite = batch[i];
        if (nextWrite && nextWrite.segment === w.segment) return next(null);
        if (!this.options.fsync) return synced(null);
        this.io.fdatasync(w.segment.fd, synced);
      });
    };
    next(null);
  }

  private flushDone(waiters: (DurableWaiter | number)[], bytes: number): void {
    this.flushing = false;
    if (this.writeError) {
      this.writeError = null;
      this.options.logger.info('message log: writes succeed again');
      this.onWriteRecovered?.();
    }
    // This runs in a file-system callback: whatever the callbacks below throw is contained
    // here, one callback at a time, so one failure neither ends the process nor stalls the log.
    const logger = this.options.logger;
    this.backlog.written(bytes, logger);
    // Waiters that came during the write with nothing appended since are covered by it
    // (a reply waiting on the journal first, then on the log): without this they would
    // wait for the next append, which may never come.
    if (this.pending.length === 0 && this.waiters.length > 0) {
      waiters = waiters.concat(this.waiters);
      this.waiters = [];
    }
    if (this.replication && waiters.length > 0) this.replication.gate.whenReplicated(() => this.releaseWaiters(waiters));
    else this.releaseWaiters(waiters);
    runGuarded(logger, 'paging in after a message log write', {}, () => this.onFlushed?.());
    runGuarded(logger, 'message log housekeeping', {}, () => {
      // Segments that died while a write was in flight are deleted now.
      this.deleteSettled();
      if (this.compactionDeferred) this.offerCompaction();
    });
    if (this.pending.length > 0) this.flush();
    else if (this.closeResolve) this.closeResolve();
  }

  private releaseWaiters(waiters: (DurableWaiter | number)[]): void {
    for (let k = 0; k < waiters.length; k += 2) {
      try {
        (waiters[k] as DurableWaiter).onDurable(waiters[k + 1] as number);
      } catch (err) {
        reportFailure(this.options.logger, 'confirming after a message log sync', {}, err);
      }
    }
  }

  /**
   * A write or fdatasync failed. `rest` (the writes not known durable) go back
   * to the head of the queue, to be written at the same positions. For lack of
   * space the broker keeps serving: the waiters that can be told (publisher
   * confirms) get a failure (a nack, never a confirm), the others wait, and the
   * write is retried every retryInterval until it succeeds. Any other error
   * (EIO, a filesystem gone read-only) is fatal.
   */
  private flushFailed(err: Error, rest: PendingWrite[], position: number, waiters: (DurableWaiter | number)[], durableBytes: number): void {
    this.flushing = false;
    this.backlog.bytes -= durableBytes;
    rest[0]!.segment.written = position;
    this.pending = rest.concat(this.pending);
    const kept: (DurableWaiter | number)[] = [];
    for (let k = 0; k < waiters.length; k += 2) {
      const w = waiters[k] as DurableWaiter;
      if (w.onDurableFailed) runGuarded(this.options.logger, 'nacking after a failed message log write', {}, () => w.onDurableFailed!(waiters[k + 1] as number, err));
      else kept.push(w, waiters[k + 1]!);
    }
    this.waiters = kept.concat(this.waiters);
    if (!isDiskFull(err)) return this.fail(err);
    if (this.closeResolve) {
      // Stopping on a full disk: what is not written now is lost, and none of it was confirmed.
      this.options.logger.error({ err, bytes: this.backlog.bytes }, 'message log: closing with records that could not be written (nothing unwritten was confirmed)');
      this.closeResolve();
      return;
    }
    if (!this.writeError) {
      this.writeError = err;
      this.options.logger.error({ err, bytes: this.backlog.bytes }, 'message log write failed for lack of space: unwritten publishes are nacked, publishers blocked; retrying');
      this.onWriteFailed?.(err);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      runGuarded(this.options.logger, 'retrying a message log write', {}, () => this.flush());
    }, this.options.retryInterval ?? WRITE_RETRY_INTERVAL);
    this.retryTimer.unref();
  }

  private fail(err: Error): void {
    this.failed = err;
    this.options.logger.fatal({ err }, 'message log write failed');
    this.onFailure?.(err);
    this.closeResolve?.();
  }

  // ------------------------------------------------------------------ reading back

  /** True when the record is in the file (a page-in can read it now). */
  isReadable(segmentId: number, offset: number, length: number): boolean {
    const s = this.segments.get(segmentId);
    return !!s && offset + length <= s.written;
  }

  /** Reads one PUBLISH record back (synchronously, through a read-ahead window: see RecordReader). */
  read(segmentId: number, offset: number, length: number): DecodedPublish {
    const s = this.segments.get(segmentId);
    if (!s) throw new Error(`message log segment ${segmentId} is gone`);
    return this.reader.read(s, offset, length);
  }

  // ------------------------------------------------------------------ housekeeping

  /**
   * Deletes every settled segment whose marks are not needed (see Segment),
   * oldest first: a segment deleted can free a later one that named it.
   */
  private deleteSettled(): void {
    // A write to a segment may be in flight: flushDone looks again.
    if (this.flushing) return;
    const gate = this.deletionsWaitFor;
    if (gate !== null && !gate.synced) {
      if (!this.deletionsDeferred) {
        this.deletionsDeferred = true;
        gate.whenSynced(() => {
          this.deletionsDeferred = false;
          this.deleteSettled(); // (after close() there are no segments left to delete)
        });
      }
      return;
    }
    const exists = (id: number): boolean => this.segments.has(id);
    for (const s of [...this.segments.values()]) {
      if (s === this.current || s.live > 0 || s.pinned || s.marksNeeded(exists) || this.pending.some((p) => p.segment === s)) continue;
      this.remove(s);
    }
  }

  private remove(s: Segment): void {
    this.segments.delete(s.id);
    this.reader.forget(s);
    try {
      closeSync(s.fd);
      unlinkSync(s.path);
      this.replication?.sink.deleted(s.path);
    } catch (err) {
      // Nothing refers to it any more: a file left behind costs disk space, not data.
      reportFailure(this.options.logger, 'deleting a dead message log segment', { segment: s.id, path: s.path }, err);
    }
  }

  /** Flushes and syncs everything (one last try when the disk is full), then closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.failed && (this.flushing || this.pending.length > 0)) {
      await new Promise<void>((resolve) => {
        this.closeResolve = resolve;
        if (!this.flushing) this.flush();
      });
    }
    this.closed = true;
    for (const s of this.segments.values()) closeSync(s.fd);
    this.segments.clear();
  }
}
