/**
 * A replication record corrupted on the wire is detected by its checksum:
 * the follower drops the connection (logged) and, reconnecting, resyncs from
 * its file index to an exact copy. The leader and follower are the real
 * replication classes over real sockets; a man-in-the-middle flips one byte.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FollowerReplication } from '../../src/cluster/follower-replication.js';
import { LeaderReplication } from '../../src/cluster/leader-replication.js';
import { freePort } from '../helpers/etcd.js';
import { waitFor } from '../helpers/wait.js';

/** Waits for a replication condition (the shared poller, with the 20 s these waits always had). */
const until = (what: string, pred: () => boolean): Promise<void> => waitFor(pred, { what, timeout: 20_000 });

describe('replication record checksums', () => {
  const dirs: string[] = [];
  let leader: LeaderReplication | null = null;
  let follower: FollowerReplication | null = null;
  let mitm: Server | null = null;
  afterAll(() => {
    follower?.stop();
    leader?.fence();
    mitm?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a corrupted record is detected, logged, and the follower resyncs to an exact copy', async () => {
    const a = mkdtempSync(join(tmpdir(), 'warren-leader-'));
    const b = mkdtempSync(join(tmpdir(), 'warren-follower-'));
    dirs.push(a, b);
    mkdirSync(join(a, 'messages'));
    writeFileSync(join(a, 'definitions.log'), '{"op":"vhost","name":"/"}\n');
    const segment = randomBytes(64 * 1024);
    writeFileSync(join(a, 'messages', '00000001.wlog'), segment);
    // The follower has a stale, diverged copy: it must be replaced, not appended to.
    mkdirSync(join(b, 'messages'));
    writeFileSync(join(b, 'messages', '00000001.wlog'), Buffer.alloc(1000, 7));
    writeFileSync(join(b, 'messages', '00000009.wlog'), Buffer.alloc(10, 1));

    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
    const port = await freePort();
    leader = new LeaderReplication([], { dataDir: a, node: 'L', secret: 's3cret', isrTimeout: 3000, logger, leaseFresh: () => true, writeIsr: async () => true, onNotLeader: () => undefined });
    await leader.start(port, '127.0.0.1');

    // Flips one byte, 5000 bytes into the leader's stream, on the first connection only.
    let corruptNext = true;
    mitm = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port });
      let seen = 0;
      const corrupt = corruptNext;
      corruptNext = false;
      upstream.on('data', (d: Buffer) => {
        if (corrupt && seen <= 5000 && seen + d.length > 5000) d[5000 - seen] = d[5000 - seen]! ^ 0xff;
        seen += d.length;
        client.write(d);
      });
      client.on('data', (d) => upstream.write(d));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    const mitmPort = await new Promise<number>((resolve) => mitm!.listen(0, '127.0.0.1', () => resolve((mitm!.address() as { port: number }).port)));

    follower = new FollowerReplication({ dataDir: b, node: 'F', secret: 's3cret', fsync: true, logger });
    follower.follow(`127.0.0.1:${mitmPort}`);
    await until('the corruption to be detected', () => lines.some((l) => l.msg === 'replication: connection to the leader dropped'));
    expect(lines.find((l) => l.msg === 'replication: connection to the leader dropped')!.err).toBe('replication frame checksum mismatch');
    expect(follower.connected).toBe(false);
    // The leader's own view of that first connection goes too (its status could still show it
    // in sync, and the wait below would end on it before the second connection caught up).
    await until('the leader to see the first connection go', () => lines.some((l) => l.msg === 'replication: follower disconnected'));

    follower.follow(`127.0.0.1:${mitmPort}`);
    await until('the follower in sync', () => leader!.status().some((f) => f.node === 'F' && f.inSync && f.lagFrames === 0));
    // A change after the catch-up streams too.
    const more = randomBytes(300);
    writeFileSync(join(a, 'messages', '00000001.wlog'), Buffer.concat([segment, more]));
    leader.appended(join(a, 'messages', '00000001.wlog'), segment.length, [more]);
    let released = false;
    leader.whenReplicated(() => (released = true));
    await until('the append acknowledged', () => released);

    expect(readFileSync(join(b, 'definitions.log'), 'utf8')).toBe('{"op":"vhost","name":"/"}\n');
    expect(readFileSync(join(b, 'messages', '00000001.wlog')).equals(Buffer.concat([segment, more]))).toBe(true);
    expect(() => readFileSync(join(b, 'messages', '00000009.wlog'))).toThrow(/ENOENT/);
  }, 30_000);
});
