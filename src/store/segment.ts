/**
 * One segment file of the message log, and the rules about segments that keep
 * the log both small and correct:
 *
 * - **A settled segment goes once its marks are not needed.** A segment is
 *   deleted when nothing refers to its records (`live` is 0) and no older
 *   segment its ACK/DELIVERED marks name is still on disk: otherwise a restart
 *   would replay that older PUBLISH without the ack that settled it, and an
 *   acked message would come back. Settled traffic goes at once even while an
 *   older backlog stays.
 * - **Compaction is chosen by bytes.** Compaction copies a segment's live
 *   records forward so its file can go. It pays only when what that frees is
 *   mostly dead: the segment's own dead bytes plus the settled segments kept
 *   only because their marks name it. A segment of large live messages is left
 *   alone (copying it would only rewrite the backlog); a few small survivors
 *   among megabytes of acked traffic are copied.
 * - **Compaction leaves no stale copies behind.** A segment is compacted only
 *   when all of its records are in the file and it is not itself kept for its
 *   marks: then it is deleted as soon as the copies are synced, and a record
 *   never has two PUBLISH records on disk for longer than that (a restart in
 *   between finds both: recovery keeps one, and `twins` makes the marks that
 *   settle it wait for both files).
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
  /** Other segments this one's ACK/DELIVERED marks name (null: none). */
  private marksFor: Set<number> | null = null;
  /** Later segments holding a second PUBLISH of records here (found by recovery; null: none). */
  twins: number[] | null = null;

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

  /** A mark appended here settles a record in `target` (and in its twins). */
  addMarkFor(target: Segment | number): void {
    const id = typeof target === 'number' ? target : target.id;
    if (id !== this.id) (this.marksFor ??= new Set()).add(id);
    if (typeof target !== 'number') for (const t of target.twins ?? []) this.addMarkFor(t);
  }

  /** The segments this one's marks name that still exist (forgetting those gone). */
  neededFor(exists: (id: number) => boolean): Iterable<number> {
    if (this.marksFor === null) return [];
    for (const id of this.marksFor) if (!exists(id)) this.marksFor.delete(id);
    if (this.marksFor.size > 0) return this.marksFor;
    this.marksFor = null;
    return [];
  }

  /** True while a segment this one's marks name still exists: then this one must stay too. */
  marksNeeded(exists: (id: number) => boolean): boolean {
    for (const _ of this.neededFor(exists)) return true;
    return false;
  }

  /** Every record of this segment is in the file. */
  get fullyWritten(): boolean {
    return this.written >= this.size;
  }

  /**
   * Worth compacting: copying the live records forward writes at most a third
   * of what it lets go — this segment's dead bytes plus `keptBytes`, the
   * settled segments that stay only because their marks name this one.
   */
  worthCompacting(keptBytes: number): boolean {
    return this.live > 0 && this.liveBytes <= (this.size + keptBytes) * COMPACT_MAX_LIVE_FRACTION;
  }
}

/**
 * The rolled-over segments worth compacting now; `waiting` when one more
 * would be but still has records to write.
 */
export function compactionCandidates(segments: ReadonlyMap<number, Segment>, current: Segment): { ready: Segment[]; waiting: boolean } {
  const exists = (id: number): boolean => segments.has(id);
  // Settled segments kept for their marks count for the segments they name.
  const kept = new Map<number, number>();
  for (const x of segments.values()) {
    if (x.live > 0 || x.pinned || x === current) continue;
    for (const id of x.neededFor(exists)) kept.set(id, (kept.get(id) ?? 0) + x.size);
  }
  const ready: Segment[] = [];
  let waiting = false;
  for (const s of segments.values()) {
    if (s.compacting || s.pinned || s.id > current.id - COMPACT_MIN_AGE || !s.worthCompacting(kept.get(s.id) ?? 0)) continue;
    // Kept for its own marks, it would stay after compaction with stale copies in it.
    if (s.marksNeeded(exists)) continue;
    if (s.fullyWritten) ready.push(s);
    else waiting = true;
  }
  return { ready, waiting };
}

/** Where a message's record is (set on the Message when it is logged). */
export interface StoredLocation {
  readonly msgId: number;
  readonly segment: Segment;
  readonly offset: number;
  readonly length: number;
  readonly persistent: boolean;
}
