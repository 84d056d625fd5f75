/**
 * A queue's storage in the message log: its persistent messages' records,
 * and the backlog paged out beyond its memory window (a DiskTail of record
 * locations, about 33 bytes per message, no object per message).
 */
import { DiskTail, type DiskRef } from './disk-tail.js';
import type { MessageLog, StoredLocation } from './message-log.js';
import type { PagedRecord, PageInTarget, PeekedRecord, QueueStorage } from './queue-storage.js';
import type { Segment } from './segment.js';

const newRef = (): DiskRef => ({ segment: 0, offset: 0, length: 0, msgId: 0, redelivered: false, persistent: false, expiresAt: 0, bodySize: 0 });

export class LogQueueStorage implements QueueStorage {
  private tail: DiskTail;
  private readonly ref = newRef();
  private readonly paged: PagedRecord = { exchange: '', routingKey: '', header: Buffer.alloc(0), body: Buffer.alloc(0), redelivered: false, expiresAt: 0, record: null as unknown as StoredLocation };

  constructor(
    private readonly log: MessageLog,
    readonly id: number,
    readonly durable: boolean,
    readonly memoryWindow: number,
    /** A durable queue's backlog recovered from the log at start-up. */
    recovered: DiskTail | null = null,
  ) {
    this.tail = recovered ?? new DiskTail();
  }

  get backlogLength(): number {
    return this.tail.length;
  }

  pageOut(record: StoredLocation, expiresAt: number, bodySize: number): void {
    this.tail.push(record.segment.id, record.offset, record.length, record.msgId, false, record.persistent, expiresAt, bodySize);
  }

  delivered(record: StoredLocation): void {
    this.log.delivered(this.id, record);
  }

  settle(record: StoredLocation, queueDeleted: boolean): void {
    if (queueDeleted) this.log.release(record);
    else this.log.ack(this.id, record);
  }

  pageIn(max: number, target: PageInTarget): boolean {
    const { tail, log, ref, paged } = this;
    for (let n = 0; n < max && tail.peekInto(ref); n++) {
      if (!log.isReadable(ref.segment, ref.offset, ref.length)) return false;
      tail.shiftInto(ref);
      let rec: ReturnType<MessageLog['read']>;
      try {
        rec = log.read(ref.segment, ref.offset, ref.length);
      } catch (err) {
        // The record cannot be read back (its file damaged behind our back). Page-ins also run
        // from socket events, where an exception would end the process: the record is dropped
        // (nothing can deliver it; its reference goes so the segment can be reclaimed).
        const segment = log.segmentById(ref.segment);
        if (segment) log.release({ segment, length: ref.length });
        target.unreadable(ref.bodySize, { segment: ref.segment, offset: ref.offset, msgId: ref.msgId }, err);
        continue;
      }
      paged.exchange = rec.exchange;
      paged.routingKey = rec.routingKey;
      // Copies out of the read-ahead buffer so one unacked message does not pin 256 KiB.
      paged.header = Buffer.from(rec.header);
      paged.body = Buffer.from(rec.body);
      paged.redelivered = ref.redelivered;
      paged.expiresAt = ref.expiresAt;
      paged.record = { msgId: ref.msgId, segment: log.segmentById(ref.segment)!, offset: ref.offset, length: ref.length, persistent: ref.persistent };
      target.pagedIn(paged);
    }
    return true;
  }

  dropBacklog(queueDeleted: boolean): void {
    const { tail, log, ref } = this;
    while (tail.shiftInto(ref)) {
      const segment = log.segmentById(ref.segment)!;
      this.settle({ msgId: ref.msgId, segment, offset: ref.offset, length: ref.length, persistent: ref.persistent }, queueDeleted);
    }
  }

  peekBacklog(count: number, now: number): PeekedRecord[] {
    const out: PeekedRecord[] = [];
    const ref = newRef();
    for (let i = 0; out.length < count && this.tail.peekInto(ref, i); i++) {
      // A record still in the log's write buffer cannot be read yet: stop there rather than wait.
      if (!this.log.isReadable(ref.segment, ref.offset, ref.length)) break;
      if (ref.expiresAt !== 0 && ref.expiresAt <= now) continue;
      const rec = this.log.read(ref.segment, ref.offset, ref.length);
      out.push({ exchange: rec.exchange, routingKey: rec.routingKey, redelivered: ref.redelivered, header: Buffer.from(rec.header), body: Buffer.from(rec.body) });
    }
    return out;
  }

  backlogIn(segment: Segment, visit: (record: StoredLocation, redelivered: boolean, moved: (to: StoredLocation) => void) => void): void {
    const tail = this.tail;
    tail.forEachIn(segment.id, (index, ref) => {
      const record: StoredLocation = { msgId: ref.msgId, segment, offset: ref.offset, length: ref.length, persistent: ref.persistent };
      visit(record, ref.redelivered, (to) => tail.relocate(index, to.segment.id, to.offset, to.length));
    });
  }
}
