/**
 * Replaying the message log at start-up: the segments are read in order and
 * each durable queue's backlog is rebuilt from PUBLISH records minus the ACKs
 * that follow them. A torn or corrupt record (checksum) ends its segment: it
 * is truncated away and logged. A PUBLISH repeated under the same msgId is a
 * compaction copy whose original had not been deleted yet: the message is
 * kept once, and the marks that settle it (before and after the restart)
 * keep their segments until both files are gone. Each queue's backlog comes back in publish (msgId) order, also
 * for messages compaction moved.
 */
import { closeSync, ftruncateSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../observe/logger.js';
import { DiskTail } from './disk-tail.js';
import { FLAG_PERSISTENT, NO_TTL, readU64, RecordType, scanRecords } from './records.js';
import { Segment } from './segment.js';

/** What recovery needs to know of a durable queue. */
export interface RecoverableQueue {
  /** x-message-ttl, to compute each recovered message's expiry from its publish time. */
  messageTtl: number | undefined;
}

/** A durable queue's backlog after recovery, oldest first. */
export interface RecoveredQueue {
  tail: DiskTail;
}

export interface Replay {
  /** Every segment file, oldest first, open, with its live references counted. */
  segments: Segment[];
  recovered: Map<number, RecoveredQueue>;
  /** The msgId after the highest one seen. */
  nextMsgId: number;
  /**
   * The queue id after the highest one any record names, live or not: ids not
   * in the journal (transient queues, a declare lost in a crash) still name
   * records that stay until their segment goes, so they must not be reused.
   */
  nextQueueId: number;
  /** Messages recovered, over all queues. */
  messages: number;
}

/** Per queue: record locations in publish order, plus index by msgId for acks. */
interface Building {
  ttl: number; seg: number[]; off: number[]; len: number[]; ids: number[]; exp: number[]; size: number[]; delivered: boolean[]; alive: boolean[];
  index: Map<number, number>;
  /** Entry → the later segments holding a second PUBLISH of it (an interrupted compaction). */
  dups: Map<number, number[]>;
}

/**
 * The live entries of a queue in publish order. Segment order is publish order
 * except for compaction copies, which keep their message's msgId: msgIds are
 * handed out in publish order, and a queue's order is its publish order.
 */
function inPublishOrder(b: Building): number[] {
  const live: number[] = [];
  let sorted = true;
  for (let k = 0; k < b.ids.length; k++) {
    if (!b.alive[k]) continue;
    if (live.length > 0 && b.ids[live[live.length - 1]!]! > b.ids[k]!) sorted = false;
    live.push(k);
  }
  if (!sorted) live.sort((x, y) => b.ids[x]! - b.ids[y]!);
  return live;
}

/** Replays `dir`'s segments for `queues` (messages for any other queue id are dropped). */
export function replaySegments(dir: string, queues: ReadonlyMap<number, RecoverableQueue>, logger: Logger): Replay {
  const files = readdirSync(dir).filter((f) => /^\d{8}\.wlog$/.test(f)).sort();
  const building = new Map<number, Building>();
  for (const [id, q] of queues) building.set(id, { ttl: q.messageTtl ?? NO_TTL, seg: [], off: [], len: [], ids: [], exp: [], size: [], delivered: [], alive: [], index: new Map(), dups: new Map() });
  const segments = new Map<number, Segment>();
  let nextMsgId = 1;
  let nextQueueId = 1;

  for (const file of files) {
    const id = Number.parseInt(file, 10);
    const path = join(dir, file);
    const image = readFileSync(path);
    // The segments this one's marks name: it must outlive them (see Segment).
    const marksFor = new Set<number>();
    const result = scanRecords(image, (type, payload, offset) => {
      if (type === RecordType.Publish) {
        const flags = payload[1]!;
        const msgId = readU64(payload, 2);
        nextMsgId = Math.max(nextMsgId, msgId + 1);
        const n = payload.readUInt16BE(10);
        for (let k = 0; k < n; k++) nextQueueId = Math.max(nextQueueId, payload.readUInt32BE(12 + 4 * k) + 1);
        if ((flags & FLAG_PERSISTENT) === 0) return; // paging copy of a transient message
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
          // A second PUBLISH of a msgId the queue still holds is a compaction copy whose
          // original was not deleted yet (the broker stopped in between): the original
          // keeps the message's place in the queue, and the acks find it by msgId.
          if (!b) continue;
          const first = b.index.get(msgId);
          if (first !== undefined) {
            const dups = b.dups.get(first);
            if (dups) dups.push(id);
            else b.dups.set(first, [id]);
            continue;
          }
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
        const queueId = payload.readUInt32BE(1);
        const msgId = readU64(payload, 5);
        // A mark may outlive its PUBLISH's segment: its ids must not be handed out again either.
        nextQueueId = Math.max(nextQueueId, queueId + 1);
        nextMsgId = Math.max(nextMsgId, msgId + 1);
        const b = building.get(queueId);
        if (!b) return;
        const at = b.index.get(msgId);
        if (at === undefined) return;
        marksFor.add(b.seg[at]!);
        for (const dup of b.dups.get(at) ?? []) marksFor.add(dup);
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
    const segment = new Segment(id, path, fd, size);
    for (const named of marksFor) segment.addMarkFor(named);
    segments.set(id, segment);
  }

  const recovered = new Map<number, RecoveredQueue>();
  let messages = 0;
  for (const [queueId, b] of building) {
    const tail = new DiskTail();
    for (const k of inPublishOrder(b)) {
      tail.push(b.seg[k]!, b.off[k]!, b.len[k]!, b.ids[k]!, b.delivered[k]!, true, b.exp[k]!, b.size[k]!);
      const segment = segments.get(b.seg[k]!)!;
      segment.addReference(b.len[k]!);
      // Marks made from now on must wait for the second copies too.
      const dups = b.dups.get(k);
      if (dups) segment.twins = [...(segment.twins ?? []), ...dups.filter((d) => !segment.twins?.includes(d))];
      messages++;
    }
    recovered.set(queueId, { tail });
  }
  return { segments: [...segments.values()], recovered, nextMsgId, nextQueueId, messages };
}
