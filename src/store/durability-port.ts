/**
 * The one place the model and the server wait for durability.
 *
 * Publisher confirms, tx.commit-ok and the replies to definition changes
 * (declare-ok, delete-ok, bind-ok…) are sent only once what they acknowledge
 * is durable: written and fdatasynced (message log and definitions journal),
 * and — on a cluster leader — acknowledged by every in-sync follower
 * (store/replication.ts). Waiting costs no allocation: a waiter object is
 * told with the token it registered (a confirm's sequence number).
 */

/** Told once everything changed before its `whenDurable` call is durable. */
export interface DurableWaiter {
  onDurable(token: number): void;
  /**
   * The write that carried those changes failed (disk full): they are not
   * durable now. Waiters with this method are told and dropped (a publisher
   * confirm becomes a nack); the others wait for the retried write.
   */
  onDurableFailed?(token: number, err: Error): void;
}

export interface Durability {
  /**
   * `waiter.onDurable(token)` once every change made so far is durable
   * (synchronously when nothing is pending). `definitionsOnly`: the reply to a
   * definition change, which depends on the definitions journal alone — it
   * does not wait behind message-log writes (nor for a log that is retrying
   * a write on a full disk).
   */
  whenDurable(waiter: DurableWaiter, token: number, definitionsOnly?: boolean): void;
  /**
   * Counts definition changes written (journal appends). A reply compares it
   * before and after handling a request: unchanged means there is nothing to
   * wait for, so a transient declare never waits behind message-log syncs.
   */
  readonly definitionChanges: number;
  /**
   * Every definition change so far is durable (journal synced, and no cluster
   * leader's replication to wait for). A request that changed nothing still
   * waits when this is false: what it confirms may be another channel's change
   * (a nowait declare, a declare-ok still waiting) that a crash would lose.
   */
  readonly definitionsDurable: boolean;
}

/** A broker without a data directory: everything is as durable as it gets at once. */
export const MEMORY_DURABILITY: Durability = {
  whenDurable(waiter: DurableWaiter, token: number): void {
    waiter.onDurable(token);
  },
  definitionChanges: 0,
  definitionsDurable: true,
};
