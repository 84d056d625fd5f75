/**
 * A storage port for the socket-free model tests (model-harness.ts) that
 * keeps nothing on disk and records what the model asks of it: messages
 * written (and for which queues: those hold the record), delivered and settled
 * per queue, and durability waiters, which stay pending until the test calls
 * `sync()` (or `fail()`), as confirms wait for the log's fdatasync.
 */
import type { Queue } from '../../src/broker/queue.js';
import type { VirtualHost } from '../../src/broker/virtual-host.js';
import type { DurableWaiter, Durability } from '../../src/store/durability-port.js';
import type { MessageStore, PageInTarget, PeekedRecord, QueueStorage, Segment, StoredLocation } from '../../src/store/queue-storage.js';

/** One message written: its record id, the queues it was written for, whether a durable queue keeps it. */
export interface Written {
  msgId: number;
  queueIds: number[];
  persistent: boolean;
}

export class RecordingStore implements MessageStore, Durability {
  behind = false;
  definitionChanges = 0;
  definitionsDurable = true;
  readonly written: Written[] = [];
  /** What the queues told their storage, in order: "delivered q#1", "settle q#1". */
  readonly events: string[] = [];
  private readonly waiters: { waiter: DurableWaiter; token: number }[] = [];
  private nextMsgId = 1;
  private nextQueueId = 1;

  publish(_exchange: string, _routingKey: string, _header: Buffer, _body: Buffer | readonly Buffer[], bodySize: number, queueIds: readonly number[], persistent: boolean): StoredLocation {
    const msgId = this.nextMsgId++;
    this.written.push({ msgId, queueIds: [...queueIds], persistent });
    return { msgId, segment: null as unknown as Segment, offset: 0, length: bodySize, persistent };
  }

  addFlowWaiter(): void {}

  whenDurable(waiter: DurableWaiter, token: number): void {
    this.waiters.push({ waiter, token });
  }

  /** Durability waiters not yet told. */
  get pending(): number {
    return this.waiters.length;
  }

  /** Everything written so far is durable: tells every waiter. */
  sync(): void {
    for (const { waiter, token } of this.waiters.splice(0)) waiter.onDurable(token);
  }

  /** The write failed (disk full): waiters that can be told of a failure are, and dropped. */
  fail(err = new Error('ENOSPC')): void {
    const keep = this.waiters.filter(({ waiter, token }) => {
      if (!waiter.onDurableFailed) return true;
      waiter.onDurableFailed(token, err);
      return false;
    });
    this.waiters.splice(0, this.waiters.length, ...keep);
  }

  /** Gives `queue` a storage port (as the composition root does for a broker with a data directory); returns its id. */
  attach(queue: Queue, durable: boolean): number {
    const id = this.nextQueueId++;
    queue.storage = new RecordingQueueStorage(id, durable, queue.name, this.events);
    return id;
  }

  /** Makes `vhost` log through this store and wait on it for durability. */
  install(vhost: VirtualHost): void {
    vhost.log = this;
    vhost.durability = this;
  }
}

/**
 * One queue's storage port. It holds a record as the log's storage does
 * (store/log-queue-storage.ts): a persistent one on a durable queue, or any
 * one while paging (which never happens here: its memory window is unbounded).
 */
class RecordingQueueStorage implements QueueStorage {
  readonly memoryWindow = Number.MAX_SAFE_INTEGER;
  readonly backlogLength = 0;

  constructor(
    readonly id: number,
    readonly durable: boolean,
    private readonly name: string,
    private readonly events: string[],
  ) {}

  pageOut(): void {
    throw new Error('RecordingQueueStorage never pages');
  }

  delivered(record: StoredLocation): void {
    this.events.push(`delivered ${this.name}#${record.msgId}`);
  }

  settle(record: StoredLocation, queueDeleted: boolean): void {
    this.events.push(`${queueDeleted ? 'release' : 'settle'} ${this.name}#${record.msgId}`);
  }

  pageIn(_max: number, _target: PageInTarget): boolean {
    return true;
  }

  dropBacklog(): void {}

  peekBacklog(): PeekedRecord[] {
    return [];
  }

  backlogIn(): void {}
}
