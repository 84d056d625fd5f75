/**
 * Opens a data directory and restores what it holds into the virtual hosts:
 * durable exchanges, queues and bindings from the definitions journal, then
 * each durable queue's unacked messages from the message log. Part of the
 * composition root: it wires the store (src/store) to the model (src/broker),
 * which sees only the store's ports (Durability, QueueStorage).
 */
import { join } from 'node:path';
import { Exchange } from './broker/exchange.js';
import { Queue } from './broker/queue.js';
import { parseQueueArguments, type QueuePolicy } from './broker/queue-arguments.js';
import { isExchangeType } from './broker/routing.js';
import { VirtualHost } from './broker/virtual-host.js';
import type { Logger } from './observe/logger.js';
import { compactSegment } from './store/compaction.js';
import { DefinitionsJournal, type Definitions } from './store/definitions.js';
import { DataDirLock } from './store/lock.js';
import { LogDurability } from './store/log-durability.js';
import { LogQueueStorage } from './store/log-queue-storage.js';
import type { LogFileIo } from './store/log-io.js';
import { MessageLog } from './store/message-log.js';
import type { QueueStorage } from './store/queue-storage.js';

/** Restored queues get this placeholder owner: they have no exclusive owner. */
const NO_OWNER = { id: 0 };

export interface DurableStateOptions {
  dataDir: string;
  fsync: boolean;
  queueMemoryWindow: number;
  segmentSize: number;
  logger: Logger;
  /** The message log's file operations (a fault-injection seam for tests; default node:fs). */
  messageLogIo?: LogFileIo;
}

export class DurableState {
  private constructor(
    private readonly lock: DataDirLock,
    readonly journal: DefinitionsJournal,
    readonly log: MessageLog,
    /** The one durability wait for confirms, tx.commit-ok and definition replies. */
    readonly durability: LogDurability,
    /** Makes a queue's storage port in the message log. */
    readonly queueStorage: (id: number, durable: boolean) => QueueStorage,
    /** What the journal held at start-up (users, vhosts and permissions are restored by the caller). */
    readonly restored: Definitions,
  ) {}

  /** Restores into `vhosts`, adding the vhosts the journal records (created at run time or by definitions). */
  static open(vhosts: Map<string, VirtualHost>, options: DurableStateOptions): DurableState {
    const { dataDir, logger } = options;
    const lock = DataDirLock.acquire(dataDir);
    try {
      if (!options.fsync) logger.warn({ dataDir }, 'fsync disabled (--no-fsync): confirmed messages can be lost on a crash');
      const started = Date.now();
      const { journal, definitions, notCompacted } = DefinitionsJournal.open(join(dataDir, 'definitions.log'), options.fsync, logger);
      if (notCompacted) logger.warn({ dataDir, err: notCompacted }, 'disk full: definitions journal kept as it is (not compacted); starting with what the data directory holds');
      const policies = new Map<number, QueuePolicy>();
      for (const [vname, v] of definitions.vhosts) {
        for (const q of v.queues.values()) {
          const what = `queue '${q.name}' in vhost '${vname}'`;
          const flags = { durable: true, exclusive: false, autoDelete: q.autoDelete };
          try {
            policies.set(q.id, parseQueueArguments(q.arguments, what, flags));
          } catch (err) {
            // Arguments this version refuses: the queue and its messages are kept, with default behaviour.
            logger.error({ vhost: vname, queue: q.name, err: (err as Error).message }, 'definitions: stored queue arguments are not valid; restoring the queue without them');
            policies.set(q.id, parseQueueArguments({}, what, flags));
          }
        }
      }
      // Journals written before vhosts had records of their own name vhosts only through their objects.
      const stored = definitions.auth.known ? definitions.auth.vhosts.keys() : definitions.vhosts.keys();
      for (const name of stored) if (!vhosts.has(name)) vhosts.set(name, new VirtualHost(name));
      const { log, recovered, nextQueueId } = MessageLog.open(join(dataDir, 'messages'), policies, { fsync: options.fsync, segmentSize: options.segmentSize, logger, io: options.messageLogIo });
      // A new queue taking an id the log's records still name would inherit them on the next restart.
      journal.reserveQueueIdsBelow(nextQueueId);
      const memoryWindow = options.queueMemoryWindow;
      const queueStorage = (id: number, durable: boolean): QueueStorage => new LogQueueStorage(log, id, durable, memoryWindow);

      for (const [name, defs] of definitions.vhosts) {
        const vhost = vhosts.get(name);
        if (!vhost) {
          logger.warn({ vhost: name }, 'definitions name a vhost that is not configured; they are kept but not loaded');
          continue;
        }
        for (const x of defs.exchanges.values()) {
          if (vhost.exchanges.has(x.name)) continue;
          if (!isExchangeType(x.type)) {
            logger.error({ vhost: name, exchange: x.name, type: x.type }, 'definitions: skipping a stored exchange of an unknown type');
            continue;
          }
          vhost.restoreExchange(new Exchange(x.name, x.type, { durable: true, autoDelete: x.autoDelete, internal: x.internal, arguments: x.arguments }));
        }
        for (const qd of defs.queues.values()) {
          const q = new Queue(qd.name, { durable: true, exclusiveOwner: null, autoDelete: qd.autoDelete, arguments: qd.arguments, policy: policies.get(qd.id)! });
          q.storage = new LogQueueStorage(log, qd.id, true, memoryWindow, recovered.get(qd.id)?.tail ?? null);
          vhost.addQueue(q);
        }
        for (const b of defs.bindings) {
          try {
            vhost.bind(b.kind, b.destination, b.source, b.routingKey, b.arguments, NO_OWNER, true);
          } catch (err) {
            // (Not the arguments: a table nested deep enough is more than a log line, or JSON, can take.)
            const binding = { source: b.source, kind: b.kind, destination: b.destination, routingKey: b.routingKey };
            logger.warn({ vhost: name, binding, err: (err as Error).message }, 'skipping a stored binding that no longer applies');
          }
        }
      }
      const durability = new LogDurability(journal, log);
      // A queue's delete line is synced before its segments can go (a crash in between would restore it empty).
      log.deletionsWaitFor = journal;
      for (const vhost of vhosts.values()) {
        vhost.durability = durability;
        vhost.journal = journal;
        vhost.logger = logger;
        vhost.log = log;
        vhost.queueStorage = queueStorage;
      }
      log.onFlushed = () => {
        for (const vhost of vhosts.values()) vhost.logFlushed();
      };
      log.onCompactable = (segment) => compactSegment(everyQueue(vhosts), log, segment, logger);
      logger.info({ dataDir, ms: Date.now() - started }, 'durable state recovered');
      return new DurableState(lock, journal, log, durability, queueStorage, definitions);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** Flushes and syncs the log, closes the files and releases the lock. */
  async close(): Promise<void> {
    await this.log.close();
    await this.journal.close();
    this.lock.release();
  }
}

function* everyQueue(vhosts: Map<string, VirtualHost>): Iterable<Queue> {
  for (const vhost of vhosts.values()) yield* vhost.queues.values();
}
