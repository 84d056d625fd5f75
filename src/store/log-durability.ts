/**
 * Durability for a broker with a data directory: the definitions journal and
 * the message log, both group-committed. A waiter is told once both hold
 * everything written before it asked — the journal first (a message is
 * confirmed only when the queue it went to is durably declared), then the
 * message log, whose sync waiters also wait for the in-sync followers on a
 * cluster leader (store/replication.ts).
 */
import type { DefinitionsJournal } from './definitions.js';
import type { Durability, DurableWaiter } from './durability-port.js';
import type { MessageLog } from './message-log.js';

export class LogDurability implements Durability {
  constructor(
    private readonly journal: DefinitionsJournal,
    private readonly log: MessageLog,
  ) {}

  get definitionChanges(): number {
    return this.journal.appends;
  }

  /** On a cluster leader, never: its replies go through the replication gate (told at once when nothing is pending). */
  get definitionsDurable(): boolean {
    return this.journal.synced && this.log.replication === null;
  }

  whenDurable(waiter: DurableWaiter, token: number, definitionsOnly = false): void {
    if (definitionsOnly) {
      const replicated = (): void => this.whenReplicated(waiter, token);
      if (this.journal.synced) replicated();
      else this.journal.whenSynced(replicated);
      return;
    }
    // The common case (no definition change in flight) adds nothing to the log's own wait.
    if (this.journal.synced) this.log.whenSynced(waiter, token);
    else this.journal.whenSynced(() => this.log.whenSynced(waiter, token));
  }

  /** On a cluster leader, once the in-sync followers have every change sent so far (journal lines included). */
  private whenReplicated(waiter: DurableWaiter, token: number): void {
    const replication = this.log.replication;
    if (replication) replication.gate.whenReplicated(() => waiter.onDurable(token));
    else waiter.onDurable(token);
  }
}
