/**
 * The store's two optional hooks for clustering (src/cluster implements them):
 *
 * - a ReplicationSink is told every change of the data directory's files
 *   right after it is made — bytes written at an offset, a file deleted, a
 *   file replaced — so a leader can stream them to its followers;
 * - a DurabilityGate holds back "durable" (publisher confirms, tx.commit-ok,
 *   durable declare-oks) until everything told to the sink so far is also
 *   acknowledged by every in-sync follower.
 *
 * Without them (a single node) nothing changes: durable means fsynced.
 */

export interface ReplicationSink {
  /** `chunks` were written at `offset` of `path` (absolute). */
  appended(path: string, offset: number, chunks: readonly Buffer[]): void;
  /** `path` was deleted. */
  deleted(path: string): void;
  /** `path` was replaced or truncated as a whole: send all of it again. */
  rewritten(path: string): void;
}

export interface DurabilityGate {
  /** Calls `done` once every change told to the sink so far is acknowledged by every in-sync follower (never, if leadership is lost). */
  whenReplicated(done: () => void): void;
}

/** The pair a cluster leader hands to the store. */
export interface StoreReplication {
  sink: ReplicationSink;
  gate: DurabilityGate;
}
