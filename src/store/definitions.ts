/**
 * Durable definitions (exchanges, queues, bindings) as an append-only journal:
 * one JSON line per change. The line is written at once (so a full disk
 * refuses the change before the model takes it); its fdatasync runs off the
 * event loop, group-committed: one sync covers every line appended since the
 * last one, and the client hears declare-ok only after it (see whenSynced
 * and store/durability-port.ts). Start-up replays the journal and rewrites
 * it compacted.
 *
 * Why a journal rather than rewriting one snapshot per change: a declare then
 * costs one small append whatever the number of definitions (measured: ~0.4 ms
 * per fdatasync here), where a full rewrite grows with every queue.
 *
 * The records and the model they build are in definitions-model.ts.
 */
import type { ReplicationSink } from './replication.js';
import { closeSync, copyFileSync, existsSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Logger } from '../observe/logger.js';
import { parseDefinitionRecord } from './definition-records.js';
import { writeFileAtomic } from './fs-sync.js';
import { isDiskFull } from './log-io.js';
import { reportFailure, runGuarded } from '../observe/guard.js';
import { apply, encodeArgs, snapshotLines, type BindingDef, type Definitions, type ExchangeDef, type Op, type PermissionDef, type QueueDef, type SettingDef, type SettingKind, type TopicPermissionDef, type UserDef, type VhostMeta } from './definitions-model.js';

export class DefinitionsError extends Error {}

/** A change could not be written to the journal (disk full…): it was not applied. */
export class DefinitionsWriteError extends Error {}

export type { AuthDefs, BindingDef, Definitions, ExchangeDef, PermissionDef, QueueDef, SettingDef, SettingKind, TopicPermissionDef, UserDef, VhostDefs, VhostMeta } from './definitions-model.js';

/** How the journal writes its lines (tests inject failures here; default node:fs). */
export interface JournalFileIo {
  write(fd: number, buffer: Buffer, offset: number, length: number): number;
  truncate(fd: number, size: number): void;
}

const nodeJournalIo: JournalFileIo = {
  write: (fd, buffer, offset, length) => writeSync(fd, buffer, offset, length),
  truncate: (fd, size) => ftruncateSync(fd, size),
};

/** The journal file: replay on open, then append one durable line per change. */
export class DefinitionsJournal {
  private fd: number;
  private readonly defs: Definitions;
  /** Bytes in the file: a failed append is cut back to this. */
  private size: number;
  /** Cluster leader: each appended line is streamed to the followers. */
  replication: ReplicationSink | null = null;
  /** Lines appended (see Durability.definitionChanges). */
  appends = 0;
  /** Lines written since the last fdatasync started. */
  private dirty = false;
  private syncQueued = false;
  private syncing: Promise<void> | null = null;
  /** Waiting for the next fdatasync to finish. */
  private waiters: (() => void)[] = [];
  /** Called once if an fdatasync fails: what was acknowledged as durable may not be, the broker must stop. */
  onFailure: ((err: Error) => void) | null = null;
  private failed: Error | null = null;

  private constructor(readonly path: string, defs: Definitions, private readonly fsync: boolean, private readonly logger: Logger, private readonly io: JournalFileIo) {
    this.defs = defs;
    this.fd = openSync(path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  /**
   * Reads (and compacts) the journal. A record that cannot be applied is
   * logged at error and skipped (the file as read is copied aside first);
   * only an unreadable file is an error. On a full disk the compacted copy
   * cannot be written: the journal is then kept as it is (torn tail cut off)
   * and `notCompacted` says why; the broker starts all the same.
   */
  static open(path: string, fsync: boolean, logger: Logger, io: JournalFileIo = nodeJournalIo): { journal: DefinitionsJournal; definitions: Definitions; notCompacted?: Error } {
    const defs: Definitions = {
      vhosts: new Map(),
      settings: new Map(),
      auth: { known: false, users: new Map(), vhosts: new Map(), permissions: new Map(), topicPermissions: new Map() },
      nextQueueId: 1,
    };
    let complete = 0;
    if (existsSync(path)) {
      let text: string;
      try {
        const bytes = readFileSync(path);
        complete = bytes.lastIndexOf(0x0a) + 1;
        text = bytes.toString('utf8');
      } catch (err) {
        throw new DefinitionsError(`cannot read definitions file ${path}: ${(err as Error).message}`);
      }
      const lines = text.split('\n');
      // Whatever follows the last newline is empty, or a line torn by a crash
      // before its fdatasync returned (so never acknowledged): skip it.
      let skipped = 0;
      for (let i = 0; i < lines.length - 1; i++) {
        const line = lines[i]!;
        if (line === '') continue;
        try {
          apply(defs, parseDefinitionRecord(line) as Op);
        } catch (err) {
          // One record that cannot be applied (corrupt, from another version, or
          // whatever a bug wrote) must not keep every other definition and message
          // from being served: log it, keep a copy of the file, go on without it.
          skipped++;
          logger.error({ file: path, line: i + 1, record: line.length > 300 ? `${line.slice(0, 300)}...` : line, err: (err as Error).message }, 'definitions: skipping a record that cannot be applied');
        }
      }
      if (skipped > 0) {
        const copy = `${path}.skipped-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        try {
          copyFileSync(path, copy);
          logger.error({ file: path, skipped, copy }, 'definitions: records were skipped; the file as it was is kept in the copy');
        } catch (err) {
          // A full disk must not stop the start-up: the records are in the log lines above.
          logger.error({ file: path, skipped, err }, 'definitions: records were skipped; no copy of the file could be made');
        }
      }
    }
    // Rewrite compacted: only what is live, as declarations (atomic replace).
    try {
      writeFileAtomic(path, snapshotLines(defs), fsync);
    } catch (err) {
      if (!isDiskFull(err as Error)) throw err;
      // Keep the journal as it is; appends go after its last complete line.
      if (existsSync(path)) {
        const fd = openSync(path, 'r+');
        try {
          if (fstatSync(fd).size > complete) ftruncateSync(fd, complete);
        } finally {
          closeSync(fd);
        }
      }
      return { journal: new DefinitionsJournal(path, defs, fsync, logger, io), definitions: defs, notCompacted: err as Error };
    }
    return { journal: new DefinitionsJournal(path, defs, fsync, logger, io), definitions: defs };
  }

  allocateQueueId(): number {
    return this.defs.nextQueueId++;
  }

  /**
   * Ids below `next` are taken (the message log still names them, see
   * Replay.nextQueueId): they are never handed out again.
   */
  reserveQueueIdsBelow(next: number): void {
    this.defs.nextQueueId = Math.max(this.defs.nextQueueId, next);
  }

  /**
   * Writes one change, and only then applies it to the journal's own model;
   * it is durable once `whenSynced` says so. A failed write (disk full) is cut
   * off the file, so the journal stays a sequence of whole lines, and throws
   * DefinitionsWriteError: the caller leaves its model unchanged too.
   */
  private append(op: Op): void {
    if (this.failed) throw new DefinitionsWriteError(`the definitions journal cannot be written (${this.failed.message})`);
    const line = Buffer.from(`${JSON.stringify(op)}\n`);
    try {
      let off = 0;
      while (off < line.length) off += this.io.write(this.fd, line, off, line.length - off);
    } catch (err) {
      try {
        this.io.truncate(this.fd, this.size);
      } catch {
        // The torn line stays; replay skips nothing but a torn *last* line, so later
        // appends would follow it: give up on this file descriptor's appends.
        this.fd = -1;
        // Lines written before it will never be synced now: their waiters would wait
        // for ever (every confirm and declare-ok behind them), so this is a failed sync.
        if (this.dirty) this.syncFailed(err as Error);
        else this.failed = err as Error;
      }
      throw new DefinitionsWriteError(`the definitions journal could not be written (${(err as Error).message})`);
    }
    this.replication?.appended(this.path, this.size, [line]);
    this.size += line.length;
    this.appends++;
    apply(this.defs, op);
    if (this.fsync) {
      this.dirty = true;
      this.scheduleSync();
    }
  }

  /** True when every line appended so far is fdatasynced. */
  get synced(): boolean {
    return !this.dirty && this.syncing === null;
  }

  /** `done()` once every line appended so far is durable (at once if it is). */
  whenSynced(done: () => void): void {
    if (this.synced) done();
    else this.waiters.push(done);
  }

  private scheduleSync(): void {
    if (this.syncQueued || this.syncing !== null) return;
    this.syncQueued = true;
    // No caller to throw to from setImmediate: a failure is contained and logged.
    setImmediate(() => void runGuarded(this.logger, 'syncing the definitions journal', { file: this.path }, () => this.sync()));
  }

  /** One fdatasync for every line written since the last one (group commit), off the event loop. */
  private sync(): void {
    this.syncQueued = false;
    if (!this.dirty || this.syncing !== null || this.fd < 0) return;
    this.dirty = false;
    const waiters = this.waiters;
    this.waiters = [];
    this.syncing = new Promise<void>((resolve) => {
      fdatasync(this.fd, (err) => {
        this.syncing = null;
        resolve();
        if (err) return this.syncFailed(err);
        this.release(waiters);
        // Waiters that came while the sync ran, with nothing appended since, are covered by it.
        if (this.dirty) this.sync();
        else this.release(this.waiters.splice(0));
      });
    });
  }

  private release(waiters: (() => void)[]): void {
    for (const w of waiters) {
      try {
        w();
      } catch (err) {
        reportFailure(this.logger, 'replying after a definitions journal sync', {}, err);
      }
    }
  }

  /**
   * After a failed fdatasync the written lines may not be on disk (and the
   * kernel may have dropped the dirty pages): nothing more can be promised.
   * The waiters are never told; the owner stops the broker.
   */
  private syncFailed(err: Error): void {
    this.failed = err;
    this.waiters = [];
    this.logger.fatal({ err, file: this.path }, 'definitions journal sync failed');
    this.onFailure?.(err);
  }

  exchangeDeclared(vhost: string, x: ExchangeDef): void {
    this.append({ op: 'exchange', vhost, name: x.name, type: x.type, autoDelete: x.autoDelete, internal: x.internal, args: encodeArgs(x.arguments) });
  }

  exchangeDeleted(vhost: string, name: string): void {
    this.append({ op: 'exchange-delete', vhost, name });
  }

  queueDeclared(vhost: string, q: QueueDef): void {
    this.append({ op: 'queue', vhost, name: q.name, id: q.id, autoDelete: q.autoDelete, args: encodeArgs(q.arguments) });
  }

  queueDeleted(vhost: string, name: string): void {
    this.append({ op: 'queue-delete', vhost, name });
  }

  bindingAdded(vhost: string, b: BindingDef): void {
    this.append({ op: 'bind', vhost, source: b.source, kind: b.kind, destination: b.destination, routingKey: b.routingKey, args: encodeArgs(b.arguments) });
  }

  bindingRemoved(vhost: string, b: BindingDef): void {
    this.append({ op: 'unbind', vhost, source: b.source, kind: b.kind, destination: b.destination, routingKey: b.routingKey, args: encodeArgs(b.arguments) });
  }

  userPut(u: UserDef): void {
    this.append({ op: 'user', ...u });
  }

  userDeleted(name: string): void {
    this.append({ op: 'user-delete', name });
  }

  vhostPut(v: VhostMeta): void {
    this.append({ op: 'vhost', ...v });
  }

  /** The vhost and everything defined in it (objects, permissions). */
  vhostDeleted(name: string): void {
    this.append({ op: 'vhost-delete', name });
  }

  permissionPut(p: PermissionDef): void {
    this.append({ op: 'permission', ...p });
  }

  permissionDeleted(user: string, vhost: string): void {
    this.append({ op: 'permission-delete', user, vhost });
  }

  topicPermissionPut(t: TopicPermissionDef): void {
    this.append({ op: 'topic-permission', ...t });
  }

  topicPermissionDeleted(user: string, vhost: string, exchange: string): void {
    this.append({ op: 'topic-permission-delete', user, vhost, exchange });
  }

  settingPut(x: SettingDef): void {
    this.append({ op: 'setting', ...x });
  }

  settingDeleted(kind: SettingKind, vhost: string, name: string): void {
    this.append({ op: 'setting-delete', kind, vhost, name });
  }

  /** Waits for a sync in flight, syncs what is left, closes the file. */
  async close(): Promise<void> {
    if (this.syncing) await this.syncing;
    if (this.fd < 0) return;
    try {
      if (this.dirty && !this.failed) fdatasyncSync(this.fd);
      this.dirty = false;
      this.release(this.waiters.splice(0));
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
