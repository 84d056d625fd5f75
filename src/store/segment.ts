/**
 * One segment file of the message log, and the two rules about segments that
 * keep the log both small and correct:
 *
 * - **Settled segments go from the head only.** A segment is deleted once
 *   nothing refers to its records (`live` is 0) *and* every older segment is
 *   gone. A segment's ACK and DELIVERED marks settle records in older
 *   segments — the original of a message, and any copy compaction left behind
 *   — so deleting it while one of those is still on disk would make a restart
 *   replay a PUBLISH without the ack that settled it: an acked message would
 *   come back. Every mark is newer than every record it settles, so deleting
 *   from the head never loses a mark that is still needed.
 * - **Compaction is chosen by bytes.** Compaction copies a segment's live
 *   records forward so it stops holding the head back. It pays only when what
 *   that frees is mostly dead: the segment's own dead bytes plus the settled
 *   segments right behind it, which go with it. A segment of large live
 *   messages is left alone (copying it would only rewrite the backlog); a few
 *   small survivors among megabytes of acked traffic are copied. A segment is
 *   never compacted before all of its records are in the file.
 */

/** Compact a segment only when its live bytes are at most this fraction of what compacting it frees. */
export const COMPACT_MAX_LIVE_FRACTION = 0.25;
/** Only segments at least this many segments behind the current one are compacted. */
export const COMPACT_MIN_AGE = 2;

export class Segment {
  /** Bytes appended (written or waiting to be). */
  size: number;
  /** Bytes handed to the file (a read below this offset finds them). */
  written: number;
  /** Live queue references to messages in this segment. */
  live = 0;
  /**
   * Record bytes held by live references: a record's length once per queue
   * holding it (a record several queues share counts several times, which
   * only makes compaction more reluctant).
   */
  liveBytes = 0;
  /** Compaction copied its live records forward: keep the file until the copies are synced. */
  pinned = false;
  /** Offered for compaction already (not again until it changes hands). */
  compacting = false;

  constructor(readonly id: number, readonly path: string, public fd: number, size: number) {
    this.size = size;
    this.written = size;
  }

  /** `count` queues took a reference to a record of `length` bytes here. */
  addReference(length: number, count = 1): void {
    this.live += count;
    this.liveBytes += length * count;
  }

  /** `count` queues dropped their reference to a record of `length` bytes here. */
  dropReference(length: number, count = 1): void {
    this.live -= count;
    this.liveBytes -= length * count;
  }

  /** Every record of this segment is in the file. */
  get fullyWritten(): boolean {
    return this.written >= this.size;
  }

  /**
   * Worth compacting: copying the live records forward writes at most a third
   * of what it lets go — this segment's dead bytes plus `settledBehind`, the
   * bytes of the settled segments right after it that go when it goes.
   */
  worthCompacting(settledBehind: number): boolean {
    return this.live > 0 && this.liveBytes <= (this.size + settledBehind) * COMPACT_MAX_LIVE_FRACTION;
  }
}

/**
 * The rolled-over segments (oldest first, `current` last) worth compacting
 * now; `waiting` when one more would be but still has records to write.
 */
export function compactionCandidates(segments: readonly Segment[], current: Segment): { ready: Segment[]; waiting: boolean } {
  // Per live segment: the bytes of the settled segments right behind it (they go when it goes).
  const settledBehind = new Map<number, number>();
  let run = 0;
  for (let k = segments.length - 1; k >= 0; k--) {
    const x = segments[k]!;
    if (x.live === 0 && x !== current) run += x.size;
    else {
      settledBehind.set(x.id, run);
      run = 0;
    }
  }
  const ready: Segment[] = [];
  let waiting = false;
  for (const s of segments) {
    if (s.compacting || s.pinned || s.id > current.id - COMPACT_MIN_AGE || !s.worthCompacting(settledBehind.get(s.id) ?? 0)) continue;
    if (s.fullyWritten) ready.push(s);
    else waiting = true;
  }
  return { ready, waiting };
}
