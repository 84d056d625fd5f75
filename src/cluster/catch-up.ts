/**
 * Catch-up of a follower that joins or reconnects: what its file index says
 * differs is streamed file by file in chunks of CHUNK bytes, read
 * asynchronously and paced by the socket (a chunk waits for 'drain' once the
 * socket holds more than HIGH_WATER bytes), so a follower far behind (tens
 * of megabytes) never stalls the leader's event loop or fills its memory.
 *
 * Files keep changing meanwhile. The leader queues every live change for
 * this follower from before the first read and sends the queue after the
 * catch-up: each catch-up byte is the file's content at some moment since
 * then, and replaying every change made since then on top yields the
 * leader's files exactly (positional writes, whole-file rewrites and
 * deletions are all idempotent in that order).
 */
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { replicatedFiles } from './file-index.js';
import { deleteFields, frame, FrameType, writeFields, type FileIndex } from './wire.js';

const CHUNK = 1024 * 1024;
const HIGH_WATER = 4 * 1024 * 1024;

export interface CatchUpResult {
  /** Bytes of file content sent. */
  bytes: number;
  files: number;
}

/**
 * Sends the follower what differs from `index` (Write and Delete frames
 * numbered `seq`). Rejects when the socket closes first or a file cannot be
 * read for another reason than having been deleted meanwhile.
 */
export async function sendCatchUp(socket: Socket, dataDir: string, index: FileIndex, seq: number): Promise<CatchUpResult> {
  const mine = replicatedFiles(dataDir);
  const result: CatchUpResult = { bytes: 0, files: 0 };
  for (const rel of mine) {
    const bytes = await sendFile(socket, dataDir, rel, index[rel], seq);
    if (bytes !== null) {
      result.bytes += bytes;
      result.files++;
    }
  }
  const names = new Set(mine);
  for (const rel of Object.keys(index)) if (!names.has(rel)) await write(socket, frame(FrameType.Delete, deleteFields(seq, rel)));
  return result;
}

/** Sends `rel` from where the follower's copy stops matching; null when nothing was sent. */
async function sendFile(socket: Socket, dataDir: string, rel: string, theirs: FileIndex[string] | undefined, seq: number): Promise<number | null> {
  let file;
  try {
    file = await open(join(dataDir, rel), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null; // deleted meanwhile: its Delete is queued
    throw err;
  }
  try {
    const size = (await file.stat()).size;
    const buffer = Buffer.allocUnsafe(CHUNK);
    let from = 0;
    if (theirs && theirs.size <= size) {
      // The follower's copy is a prefix of ours when their checksums agree: send only the rest.
      let crc = 0;
      for (let at = 0; at < theirs.size; ) {
        const { bytesRead } = await file.read(buffer, 0, Math.min(CHUNK, theirs.size - at), at);
        if (bytesRead === 0) break;
        crc = crc32(buffer.subarray(0, bytesRead), crc);
        at += bytesRead;
      }
      if (crc === theirs.crc) from = theirs.size;
    }
    // Identical copies only: a follower's longer copy of a file that is now empty (a segment just
    // rolled) gets an empty Write that cuts it to size 0.
    if (theirs && theirs.size === size && from === size) return null;
    let sent = 0;
    for (let at = from; ; ) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(CHUNK, size - at), at);
      // The last chunk also sets the size (shorter copies are cut, a file that shrank meanwhile is fixed by the queued rewrite).
      const last = at + bytesRead >= size || bytesRead === 0;
      // A copy: the buffer is reused for the next read while this chunk may still wait in the socket.
      const data = Buffer.from(buffer.subarray(0, bytesRead));
      await write(socket, frame(FrameType.Write, writeFields(seq, at, last ? at + bytesRead : -1, rel), [data]));
      sent += bytesRead;
      at += bytesRead;
      if (last) break;
    }
    return sent;
  } finally {
    await file.close();
  }
}

/** Writes one frame; resolves once the socket can take more (rejects if it closed). */
function write(socket: Socket, parts: Buffer[]): Promise<void> {
  if (socket.destroyed) return Promise.reject(new Error('follower connection closed during catch-up'));
  socket.cork();
  for (const p of parts) if (p.length > 0) socket.write(p);
  socket.uncork();
  if (socket.writableLength <= HIGH_WATER) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      if (socket.destroyed) reject(new Error('follower connection closed during catch-up'));
      else resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
