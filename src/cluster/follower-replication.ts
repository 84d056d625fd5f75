/**
 * A follower's side of replication: connects to the leader's replication
 * port, proves it knows the cluster secret, sends the index of its data
 * directory, then applies what the leader streams — positional writes,
 * deletions — and acknowledges the highest frame applied (after fdatasync of
 * every file touched, when fsync is on; syncs run in the background). A corrupt frame drops the connection;
 * the next connection resynchronises from the index.
 */
import { createHmac } from 'node:crypto';
import { closeSync, fdatasync, ftruncateSync, mkdirSync, openSync, renameSync, unlink, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '../observe/logger.js';
import { guarded, runGuarded } from '../observe/guard.js';
import { DELETED_SUFFIX, indexFiles, isSafeRelativePath, sweepDeleted } from './file-index.js';
import { frame, FrameDecoder, FrameType, readPath, seqFields, type DecodedFrame } from './wire.js';

/** Background syncs a follower runs at once (the libuv pool has 4 threads by default). */
const MAX_SYNCS = 3;

/** One background sync: `seq` is acknowledged once every file in `fds` is synced and every earlier sync acked. */
interface PendingSync {
  socket: Socket;
  seq: number;
  fds: Set<number>;
  left: number;
  error: Error | null;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closing only
  }
}

export interface FollowerReplicationOptions {
  dataDir: string;
  node: string;
  secret: string;
  fsync: boolean;
  logger: Logger;
}

export class FollowerReplication {
  private socket: Socket | null = null;
  private readonly fds = new Map<string, number>();
  private applied = 0;
  /** Highest frame written (not necessarily synced yet), and the highest a sync (or ack) was started for, on this connection. */
  private written = -1;
  private started = -1;
  /** A Mark arrived that no ack answered yet. */
  private markUnanswered = false;
  /** Files written since the last sync started. */
  private readonly dirty = new Set<number>();
  /** Syncs started and not yet acknowledged, oldest first. */
  private syncs: PendingSync[] = [];
  /** Files closed while their sync ran. */
  private closeAfterSync: number[] = [];
  /** host:port of the leader this follows (or is connecting to). */
  leader = '';
  /** Bytes applied since the last connection (catch-up included). */
  bytesApplied = 0;
  /** Why the last connection ended. */
  lastError = '';
  /** When the leader last refused this node (wrong secret), or 0. */
  refusedAt = 0;

  constructor(private readonly o: FollowerReplicationOptions) {}

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Follows `address` (host:port), dropping any other leader's connection. */
  follow(address: string): void {
    if (this.socket && this.leader === address) return;
    this.stop();
    this.leader = address;
    const at = address.lastIndexOf(':');
    const socket = connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    let authenticated = false;
    socket.on('data', (data) => {
      if (this.socket !== socket) return;
      try {
        const frames = decoder.push(data);
        if (!authenticated && frames[0]) {
          const first = frames.shift()!;
          if (first.type === FrameType.Refused) throw new Error(`refused by the leader: ${first.body.toString()}`);
          if (first.type !== FrameType.Challenge) throw new Error('expected a challenge');
          authenticated = true;
          this.hello(socket, first.body);
        }
        this.apply(socket, frames);
      } catch (err) {
        this.lastError = (err as Error).message;
        if (this.lastError.startsWith('refused by the leader')) this.refusedAt = Date.now();
        this.o.logger.warn({ leader: address, err: this.lastError }, 'replication: connection to the leader dropped');
        this.stop();
      }
    });
    socket.on('error', (err) => {
      this.lastError = err.message;
    });
    socket.on('close', guarded(this.o.logger, 'replication: releasing the connection to the leader', { leader: address }, () => {
      if (this.socket === socket) this.stop();
    }));
  }

  private hello(socket: Socket, challenge: Buffer): void {
    this.closeFiles();
    sweepDeleted(this.o.dataDir);
    const mac = createHmac('sha256', this.o.secret).update(challenge).digest('hex');
    this.bytesApplied = 0;
    indexFiles(this.o.dataDir).then(
      (index) => {
        if (this.socket !== socket) return;
        runGuarded(this.o.logger, 'replication: sending the file index', { leader: this.leader }, () => {
          socket.write(Buffer.concat(frame(FrameType.Hello, Buffer.from(JSON.stringify({ node: this.o.node, mac, index })))));
        });
      },
      (err: unknown) => {
        if (this.socket !== socket) return;
        this.lastError = (err as Error).message;
        this.o.logger.warn({ leader: this.leader, err: this.lastError }, 'replication: cannot index the data directory');
        this.stop();
      },
    );
  }

  private apply(socket: Socket, frames: DecodedFrame[]): void {
    if (frames.length === 0) return;
    let last = -1;
    for (const f of frames) {
      switch (f.type) {
        case FrameType.Write: {
          const seq = f.body.readDoubleBE(0);
          const offset = f.body.readDoubleBE(8);
          const truncateTo = f.body.readDoubleBE(16);
          const { path, end } = readPath(f.body, 24);
          const fd = this.open(path);
          const data = f.body.subarray(end);
          let off = 0;
          while (off < data.length) off += writeSync(fd, data, off, data.length - off, offset + off);
          if (truncateTo >= 0) ftruncateSync(fd, truncateTo);
          this.bytesApplied += data.length;
          this.dirty.add(fd);
          last = seq;
          break;
        }
        case FrameType.Delete: {
          const seq = f.body.readDoubleBE(0);
          const { path } = readPath(f.body, 8);
          this.remove(path);
          last = seq;
          break;
        }
        case FrameType.Mark:
          last = f.body.readDoubleBE(0);
          this.markUnanswered = true;
          break;
        case FrameType.Refused:
          throw new Error(`refused by the leader: ${f.body.toString()}`);
        default:
          throw new Error(`unexpected replication frame ${f.type}`);
      }
    }
    if (last >= 0) this.written = last;
    this.acknowledge(socket);
  }

  /**
   * Acks the highest frame written — after an fdatasync of every file it
   * touched, when fsync is on. Syncs run in the background and may overlap
   * (up to MAX_SYNCS): frames that arrive while one runs are written at once
   * and get a sync of their own without waiting for the running one, so a
   * frame's ack waits for about one disk sync, not two; the event loop never
   * waits for the disk. Acks follow the order the syncs were started in.
   */
  private acknowledge(socket: Socket): void {
    // Catch-up frames all carry one number: those after the first ack still need their sync (and
    // the leader hears from this node while a long catch-up streams).
    if (this.written <= this.started && this.dirty.size === 0) {
      // A Mark (heartbeat, catch-up end) is answered even when it names a frame already
      // acknowledged: the leader counts answers to keep this node in the in-sync set.
      if (this.markUnanswered && this.syncs.length === 0 && this.started >= 0) this.sendAck(socket, this.started);
      return;
    }
    const seq = this.written;
    if (this.o.fsync && this.dirty.size > 0 && this.syncs.length >= MAX_SYNCS) return; // resumed when one ends
    this.started = seq;
    const sync: PendingSync = { socket, seq, fds: new Set(this.o.fsync ? this.dirty : []), left: 0, error: null };
    this.dirty.clear();
    this.syncs.push(sync);
    sync.left = sync.fds.size;
    if (sync.left === 0) return this.syncEnded();
    for (const fd of sync.fds) {
      fdatasync(fd, (err) => {
        if (err) sync.error ??= err;
        if (--sync.left === 0) runGuarded(this.o.logger, 'replication: acknowledging synced frames', { leader: this.leader }, () => this.syncEnded());
      });
    }
  }

  /** Acks every finished sync at the head of the line, closes files no running sync needs any more. */
  private syncEnded(): void {
    while (this.syncs.length > 0 && this.syncs[0]!.left === 0) {
      const sync = this.syncs.shift()!;
      if (sync.socket !== this.socket) continue; // an earlier connection's
      if (sync.error) {
        this.lastError = sync.error.message;
        this.o.logger.warn({ leader: this.leader, err: sync.error.message }, 'replication: fdatasync failed; resynchronising');
        this.stop();
        continue;
      }
      this.sendAck(sync.socket, sync.seq);
    }
    if (this.closeAfterSync.length > 0) {
      const busy = (fd: number): boolean => this.syncs.some((s) => s.left > 0 && s.fds.has(fd));
      for (const fd of this.closeAfterSync) if (!busy(fd)) closeQuietly(fd);
      this.closeAfterSync = this.closeAfterSync.filter(busy);
    }
    if (this.socket) this.acknowledge(this.socket);
  }

  private sendAck(socket: Socket, seq: number): void {
    this.applied = seq;
    this.markUnanswered = false;
    socket.write(Buffer.concat(frame(FrameType.Ack, seqFields(seq))));
  }

  private open(rel: string): number {
    if (!isSafeRelativePath(rel)) throw new Error(`unsafe replicated path '${rel}'`);
    let fd = this.fds.get(rel);
    if (fd === undefined) {
      const abs = join(this.o.dataDir, rel);
      mkdirSync(dirname(abs), { recursive: true });
      try {
        fd = openSync(abs, 'r+');
      } catch {
        fd = openSync(abs, 'w+', 0o600);
      }
      this.fds.set(rel, fd);
    }
    return fd;
  }

  private remove(rel: string): void {
    if (!isSafeRelativePath(rel)) throw new Error(`unsafe replicated path '${rel}'`);
    const fd = this.fds.get(rel);
    if (fd !== undefined) this.close(fd);
    this.fds.delete(rel);
    // Renamed out of the way at once, unlinked in the background: unlinking a large segment
    // can take milliseconds, and the acks of the frames after it must not wait for that.
    const abs = join(this.o.dataDir, rel);
    const doomed = join(dirname(abs), `.${basename(abs)}${DELETED_SUFFIX}`);
    try {
      renameSync(abs, doomed);
    } catch {
      return; // already gone
    }
    unlink(doomed, () => undefined);
  }

  /** Closes `fd` now, or once the sync running on it is done. */
  private close(fd: number): void {
    this.dirty.delete(fd);
    if (this.syncs.some((s) => s.left > 0 && s.fds.has(fd))) this.closeAfterSync.push(fd);
    else closeQuietly(fd);
  }

  private closeFiles(): void {
    for (const fd of this.fds.values()) this.close(fd);
    this.fds.clear();
    this.dirty.clear();
    this.written = -1;
    this.started = -1;
    this.markUnanswered = false;
  }

  get appliedSeq(): number {
    return this.applied;
  }

  /** Drops the connection and closes the files (the data directory is left as applied). */
  stop(): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
    this.closeFiles();
  }
}
