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
 * - Recovery replays the segments in order, stops at a torn or corrupt record
 *   (checksum), truncates it away and logs where.
 */
import { closeSync, existsSync, fdatasync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, unlinkSync, writev } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../observe/logger.js';
import { DiskTail } from './disk-tail.js';
import { decodePublish, encodeMark, encodePublish, FLAG_PERSISTENT, NO_TTL, readU64, RecordType, scanRecords, type DecodedPublish } from './records.js';

export const DEFAULT_SEGMENT_SIZE = 8 * 1024 * 1024;
const READ_AHEAD = 256 * 1024;
const LOG_BEHIND_HIGH = 32 * 1024 * 1024;
const LOG_BEHIND_LOW = 8 * 1024 * 1024;

export class Segment {
  /** Bytes appended (written or waiting to be). */
  size: number;
  /** Bytes handed to the file (a read below this offset finds them). */
  written: number;
  /** Live queue references to messages in this segment. */
  live = 0;
  /** Compaction copied its live records forward: keep the file until the copies are synced. */
  pinned = false;
  /** Offered for compaction already (not again until it changes hands). */
  compacting = false;

  constructor(readonly id: number, readonly path: string, public fd: number, size: number) {
    this.size = size;
    this.written = size;
  }
}

/** Where a message's record is (set on the Message when it is logged). */
export interface StoredLocation {
  readonly msgId: number;
  readonly segment: Segment;
  readonly offset: number;
  readonly length: number;
  readonly persistent: boolean;
}

/** Told when everything appended before the call to `whenSynced` is durable. */
export interface SyncWaiter {
  onSynced(token: number): void;
  /**
   * The write that carried those records failed (disk full): they are not
   * durable now. Waiters with this method are told and dropped (a publisher
   * confirm becomes a nack); the others wait for the retried write.
   */
  onSyncFailed?(token: number, err: Error): void;
}

/** The file operations the log writes with (tests inject failures here). */
export interface LogFileIo {
  writev: typeof writev;
  fdatasync: typeof fdatasync;
}

/** Write errors that mean "no space": the write is retried later and the broker keeps serving. */
export function isDiskFull(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** How long after a failed write (disk full) the log tries again. */
export const WRITE_RETRY_INTERVAL = 1000;

/** What recovery needs to know of a durable queue. */
export interface RecoverableQueue {
  /** x-message-ttl, to compute each recovered message's expiry from its publish time. */
  messageTtl: number | undefined;
}

/** A durable queue's backlog after recovery, oldest first. */
export interface RecoveredQueue {
  tail: DiskTail;
}

export interface MessageLogOptions {
  fsync: boolean;
  segmentSize?: number;
  logger: Logger;
  /** File operations for writing (default node:fs). */
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

/**
 * A rolled-over segment this many segments behind the current one that holds
 * at most COMPACT_MAX_LIVE live references is mostly dead: its few live
 * records are copied forward so the file can go (a handful of long-unacked
 * messages must not pin megabytes of disk).
 */
const COMPACT_MIN_AGE = 2;
const COMPACT_MAX_LIVE = 64;

export class MessageLog {
  private readonly segments = new Map<number, Segment>();
  private current!: Segment;
  private nextMsgId = 1;
  private pending: PendingWrite[] = [];
  private waiters: (SyncWaiter | number)[] = [];
  private flushQueued = false;
  private flushing = false;
  private closed = false;
  private failed: Error | null = null;
  private readonly segmentSize: number;
  /** Read-ahead cache for paging bodies back in. */
  private cacheSegment: Segment | null = null;
  private cacheOffset = 0;
  private cache: Buffer = Buffer.alloc(0);
  /** Called after each flush so queues waiting to page in unwritten records can go on. */
  onFlushed: (() => void) | null = null;
  /** Called once if a write or sync fails for a reason other than lack of space: the broker cannot keep its promises any more. */
  onFailure: ((err: Error) => void) | null = null;
  /** A write failed for lack of space (first failure of an episode): the records wait in memory and the write is retried. */
  onWriteFailed: ((err: Error) => void) | null = null;
  /** A write succeeded again after onWriteFailed. */
  onWriteRecovered: (() => void) | null = null;
  /** File operations used for writing (replaceable by tests to inject faults). */
  io: LogFileIo;
  /** The error of the failing write episode (disk full), until a write succeeds again. */
  private writeError: Error | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Bytes appended but not yet written and synced. */
  private unsyncedBytes = 0;
  /** Publishers paused because the log is behind (flow control). */
  private flowWaiters: { flowResumed(): void }[] = [];
  /** Called (asynchronously) with a mostly-dead segment; the owner of the references copies them forward. */
  onCompactable: ((segment: Segment) => void) | null = null;

  private constructor(readonly dir: string, private readonly options: MessageLogOptions) {
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.io = options.io ?? { writev, fdatasync };
  }

  /**
   * Opens the log, replaying every segment. `queueIds` are the durable queues
   * that still exist; messages for any other id are dropped.
   */
  static open(dir: string, queues: ReadonlyMap<number, RecoverableQueue>, options: MessageLogOptions): { log: MessageLog; recovered: Map<number, RecoveredQueue> } {
    mkdirSync(dir, { recursive: true });
    const log = new MessageLog(dir, options);
    const recovered = log.recover(queues);
    return { log, recovered };
  }

  private recover(queues: ReadonlyMap<number, RecoverableQueue>): Map<number, RecoveredQueue> {
    const files = readdirSync(this.dir).filter((f) => /^\d{8}\.wlog$/.test(f)).sort();
    // Per queue: record locations in publish order, plus index by msgId for acks.
    interface Building { ttl: number; seg: number[]; off: number[]; len: number[]; ids: number[]; exp: number[]; size: number[]; delivered: boolean[]; alive: boolean[]; index: Map<number, number> }
    const building = new Map<number, Building>();
    for (const [id, q] of queues) building.set(id, { ttl: q.messageTtl ?? NO_TTL, seg: [], off: [], len: [], ids: [], exp: [], size: [], delivered: [], alive: [], index: new Map() });
    const logger = this.options.logger;

    files.forEach((file, i) => {
      const id = Number.parseInt(file, 10);
      const path = join(this.dir, file);
      const image = readFileSync(path);
      const result = scanRecords(image, (type, payload, offset) => {
        if (type === RecordType.Publish) {
          const flags = payload[1]!;
          if ((flags & FLAG_PERSISTENT) === 0) return; // paging copy of a transient message
          const msgId = readU64(payload, 2);
          this.nextMsgId = Math.max(this.nextMsgId, msgId + 1);
          const n = payload.readUInt16BE(10);
          const at = 12 + 4 * n;
          const publishedAt = readU64(payload, at);
          const msgTtl = payload.readUInt32BE(at + 8);
          // Body size: the last field (u32 length + body) ends the payload.
          const exLen = payload[at + 12]!;
          const rkLen = payload[at + 13 + exLen]!;
          const hLenAt = at + 14 + exLen + rkLen;
          const bodySize = payload.readUInt32BE(hLenAt + 4 + payload.readUInt32BE(hLenAt));
          for (let k = 0; k < n; k++) {
            const b = building.get(payload.readUInt32BE(12 + 4 * k));
            if (!b) continue;
            const ttl = Math.min(b.ttl, msgTtl);
            b.index.set(msgId, b.ids.length);
            b.seg.push(id);
            b.off.push(offset);
            b.len.push(payload.length + 8);
            b.ids.push(msgId);
            b.exp.push(ttl === NO_TTL ? 0 : publishedAt + ttl);
            b.size.push(bodySize);
            b.delivered.push(false);
            b.alive.push(true);
          }
        } else if (type === RecordType.Ack || type === RecordType.Delivered) {
          const b = building.get(payload.readUInt32BE(1));
          if (!b) return;
          const at = b.index.get(readU64(payload, 5));
          if (at === undefined) return;
          if (type === RecordType.Ack) {
            b.alive[at] = false;
            b.index.delete(b.ids[at]!);
          } else b.delivered[at] = true;
        } else {
          // Unknown record types come from a newer Warren: refuse rather than lose data.
          throw new Error(`unknown record type ${type} in ${path} at offset ${offset}`);
        }
      });
      let size = image.length;
      if (!result.ok) {
        logger.warn({ file: path, offset: result.offset, reason: result.reason, dropped: image.length - result.offset }, 'message log: dropping torn or corrupt tail');
        size = result.offset;
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, size);
        closeSync(fd);
      }
      const fd = openSync(path, 'r+');
      this.segments.set(id, new Segment(id, path, fd, size));
      if (i === files.length - 1) this.current = this.segments.get(id)!;
    });

    const recovered = new Map<number, RecoveredQueue>();
    let messages = 0;
    for (const [queueId, b] of building) {
      const tail = new DiskTail();
      for (let k = 0; k < b.ids.length; k++) {
        if (!b.alive[k]) continue;
        tail.push(b.seg[k]!, b.off[k]!, b.len[k]!, b.ids[k]!, b.delivered[k]!, true, b.exp[k]!, b.size[k]!);
        this.segments.get(b.seg[k]!)!.live++;
        messages++;
      }
      recovered.set(queueId, { tail });
    }
    if (!this.current) this.current = this.newSegment(1);
    else this.rollIfFull(0);
    for (const s of [...this.segments.values()]) this.deleteIfDead(s);
    logger.info({ segments: this.segments.size, messages, queues: recovered.size }, 'message log recovered');
    return recovered;
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
      this.deleteIfDead(old);
      this.offerCompaction();
    }
  }

  private offerCompaction(): void {
    if (!this.onCompactable) return;
    for (const s of this.segments.values()) {
      if (s.compacting || s.pinned || s.live === 0 || s.live > COMPACT_MAX_LIVE || s.id > this.current.id - COMPACT_MIN_AGE) continue;
      s.compacting = true;
      setImmediate(() => {
        if (this.segments.get(s.id) === s && !this.closed) this.onCompactable?.(s);
      });
    }
  }

  /**
   * Copies a live record forward into the current segment for the queues that
   * still hold it, moving their references; the old segment is deleted once the
   * copy is durable. Returns the new location.
   */
  copyForward(old: StoredLocation, queueIds: readonly number[]): StoredLocation {
    const rec = this.read(old.segment.id, old.offset, old.length);
    const body = Buffer.from(rec.body);
    const meta = { msgId: old.msgId, flags: old.persistent ? FLAG_PERSISTENT : 0, queueIds, publishedAt: rec.publishedAt, ttl: rec.ttl };
    const copy = encodePublish(meta, rec.exchange, rec.routingKey, Buffer.from(rec.header), body, body.length);
    this.rollIfFull(copy.length);
    const segment = this.current;
    const offset = segment.size;
    this.append(segment, copy.head, copy.length);
    if (body.length > 0) this.pendingFor(segment).buffers.push(body);
    segment.live += queueIds.length;
    old.segment.live -= queueIds.length;
    if (!old.segment.pinned) {
      old.segment.pinned = true;
      this.whenSynced({ onSynced: () => { old.segment.pinned = false; this.deleteIfDead(old.segment); } }, 0);
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
    segment.live += queueIds.length;
    return { msgId, segment, offset, length: rec.length, persistent };
  }

  /** A queue is done with a message (acked, or dropped by purge): log it and release the reference. */
  ack(queueId: number, loc: StoredLocation): void {
    if (loc.persistent) this.appendMark(RecordType.Ack, queueId, loc.msgId);
    this.release(loc.segment);
  }

  /** First delivery of a persistent message: after a restart it comes back marked redelivered. */
  delivered(queueId: number, loc: StoredLocation): void {
    if (loc.persistent) this.appendMark(RecordType.Delivered, queueId, loc.msgId);
  }

  /** Drops a queue reference without a record (its queue was deleted; recovery ignores unknown queues). */
  release(segment: Segment): void {
    segment.live--;
    this.deleteIfDead(segment);
  }

  segmentById(id: number): Segment | undefined {
    return this.segments.get(id);
  }

  private appendMark(type: number, queueId: number, msgId: number): void {
    const b = encodeMark(type, queueId, msgId);
    this.rollIfFull(b.length);
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
    this.unsyncedBytes += recordLength;
    this.scheduleFlush();
  }

  /**
   * Flow control: the disk is falling behind the publishers (more than
   * LOG_BEHIND_HIGH bytes waiting to be written and synced). Publishers are
   * paused until the backlog of writes is down to LOG_BEHIND_LOW, so memory
   * held by unwritten records stays bounded.
   */
  get behind(): boolean {
    return this.unsyncedBytes > LOG_BEHIND_HIGH;
  }

  addFlowWaiter(waiter: { flowResumed(): void }): void {
    this.flowWaiters.push(waiter);
  }

  /** True when everything appended so far is durable. */
  get synced(): boolean {
    return this.pending.length === 0 && !this.flushing;
  }

  /** `waiter.onSynced(token)` once everything appended so far is durable (at once if it already is). */
  whenSynced(waiter: SyncWaiter, token: number): void {
    if (this.synced) {
      waiter.onSynced(token);
      return;
    }
    this.waiters.push(waiter, token);
  }

  private scheduleFlush(): void {
    // While writes fail for lack of space, only the retry timer writes (not every append).
    if (this.flushQueued || this.flushing || this.writeError) return;
    this.flushQueued = true;
    setImmediate(() => this.flush());
  }

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
        // The next write may be to the same segment: sync once, after its last write.
        const nextWrite = batch[i];
        if (nextWrite && nextWrite.segment === w.segment) return next(null);
        if (!this.options.fsync) return synced(null);
        this.io.fdatasync(w.segment.fd, synced);
      });
    };
    next(null);
  }

  private flushDone(waiters: (SyncWaiter | number)[], bytes: number): void {
    this.flushing = false;
    this.unsyncedBytes -= bytes;
    if (this.writeError) {
      this.writeError = null;
      this.options.logger.info('message log: writes succeed again');
      this.onWriteRecovered?.();
    }
    if (this.flowWaiters.length > 0 && this.unsyncedBytes <= LOG_BEHIND_LOW) {
      const paused = this.flowWaiters;
      this.flowWaiters = [];
      for (const w of paused) w.flowResumed();
    }
    for (let k = 0; k < waiters.length; k += 2) (waiters[k] as SyncWaiter).onSynced(waiters[k + 1] as number);
    this.onFlushed?.();
    // Segments that died while a write was in flight are deleted now.
    for (const seg of [...this.segments.values()]) this.deleteIfDead(seg);
    if (this.pending.length > 0) this.flush();
    else if (this.closeResolve) this.closeResolve();
  }

  /**
   * A write or fdatasync failed. `rest` (the writes not known durable) go back
   * to the head of the queue, to be written at the same positions. For lack of
   * space the broker keeps serving: the waiters that can be told (publisher
   * confirms) get a failure (a nack, never a confirm), the others wait, and the
   * write is retried every retryInterval until it succeeds. Any other error
   * (EIO, a filesystem gone read-only) is fatal.
   */
  private flushFailed(err: Error, rest: PendingWrite[], position: number, waiters: (SyncWaiter | number)[], durableBytes: number): void {
    this.flushing = false;
    this.unsyncedBytes -= durableBytes;
    rest[0]!.segment.written = position;
    this.pending = rest.concat(this.pending);
    const kept: (SyncWaiter | number)[] = [];
    for (let k = 0; k < waiters.length; k += 2) {
      const w = waiters[k] as SyncWaiter;
      if (w.onSyncFailed) w.onSyncFailed(waiters[k + 1] as number, err);
      else kept.push(w, waiters[k + 1]!);
    }
    this.waiters = kept.concat(this.waiters);
    if (!isDiskFull(err)) return this.fail(err);
    if (this.closeResolve) {
      // Stopping on a full disk: what is not written now is lost, and none of it was confirmed.
      this.options.logger.error({ err, bytes: this.unsyncedBytes }, 'message log: closing with records that could not be written (nothing unwritten was confirmed)');
      this.closeResolve();
      return;
    }
    if (!this.writeError) {
      this.writeError = err;
      this.options.logger.error({ err, bytes: this.unsyncedBytes }, 'message log write failed for lack of space: unwritten publishes are nacked, publishers blocked; retrying');
      this.onWriteFailed?.(err);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
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

  /** Reads one PUBLISH record back (synchronously, through a read-ahead window). */
  read(segmentId: number, offset: number, length: number): DecodedPublish {
    const s = this.segments.get(segmentId);
    if (!s) throw new Error(`message log segment ${segmentId} is gone`);
    if (this.cacheSegment !== s || offset < this.cacheOffset || offset + length > this.cacheOffset + this.cache.length) {
      const size = Math.min(Math.max(READ_AHEAD, length), s.written - offset);
      const buf = Buffer.allocUnsafe(size);
      let got = 0;
      while (got < size) {
        const n = readSync(s.fd, buf, got, size - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      this.cache = buf.subarray(0, got);
      this.cacheSegment = s;
      this.cacheOffset = offset;
    }
    const at = offset - this.cacheOffset;
    const rec = this.cache.subarray(at, at + length);
    return decodePublish(rec.subarray(8));
  }

  // ------------------------------------------------------------------ housekeeping

  private deleteIfDead(s: Segment): void {
    if (s === this.current || s.live > 0 || s.pinned) return;
    if (this.pending.some((p) => p.segment === s)) return;
    if (this.flushing) {
      // A write to it may be in flight: look again after this flush.
      return;
    }
    this.segments.delete(s.id);
    if (this.cacheSegment === s) this.cacheSegment = null;
    closeSync(s.fd);
    unlinkSync(s.path);
  }

  private closeResolve: (() => void) | null = null;

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

/** writev until every byte is written (a short write continues where it stopped). */
function writevAll(write: typeof writev, fd: number, buffers: Buffer[], position: number, cb: (err: Error | null) => void): void {
  write(fd, buffers, position, (err, written) => {
    if (err) return cb(err);
    let left = written;
    let k = 0;
    while (k < buffers.length && left >= buffers[k]!.length) left -= buffers[k++]!.length;
    if (k === buffers.length) return cb(null);
    const rest = [buffers[k]!.subarray(left), ...buffers.slice(k + 1)];
    writevAll(write, fd, rest, position + written, cb);
  });
}
