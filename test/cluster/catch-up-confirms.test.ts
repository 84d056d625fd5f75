/**
 * A follower's acknowledgements during its catch-up prove nothing: every
 * catch-up frame carries the frame number current when the catch-up began,
 * and the follower acknowledges it after the first chunk it applied, long
 * before it holds the rest. So neither a confirm nor a place in the in-sync
 * set may follow from them — only the acknowledgement of the Mark that ends
 * the catch-up counts. Real replication classes over real sockets, 24 MB of
 * leader data streamed to an empty follower.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { replicatedFiles } from '../../src/cluster/file-index.js';
import { FollowerReplication } from '../../src/cluster/follower-replication.js';
import { LeaderReplication } from '../../src/cluster/leader-replication.js';
import { freePort } from '../helpers/etcd.js';
import { scratch } from '../helpers/scratch.js';
import { waitFor } from '../helpers/wait.js';

const MB = 1024 * 1024;
const SEGMENTS = 3; // 3 × 8 MB
const segmentPath = (dir: string, i: number): string => join(dir, 'messages', `${String(i).padStart(8, '0')}.wlog`);

/** What the follower held at one moment. */
interface Snapshot {
  /** 'catch-up sent' lines logged so far. */
  catchUpsSent: number;
  bytesApplied: number;
  sameFiles: boolean;
}

describe('acknowledgements during a catch-up', () => {
  const { tempDir, onCleanup } = scratch();

  /** A leader directory of 24 MB, the follower's empty; a logger whose lines are kept. */
  const setUp = (): { a: string; b: string; lines: Record<string, unknown>[]; logger: pino.Logger; total: () => number; snapshot: (follower: FollowerReplication) => Snapshot } => {
    const a = tempDir('warren-leader-');
    const b = tempDir('warren-follower-');
    mkdirSync(join(a, 'messages'));
    writeFileSync(join(a, 'definitions.log'), '{"op":"vhost","name":"/"}\n');
    for (let i = 1; i <= SEGMENTS; i++) writeFileSync(segmentPath(a, i), randomBytes(8 * MB));
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write(chunk: Buffer, _e, cb) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); cb(); } }));
    const total = (): number => replicatedFiles(a).reduce((n, f) => n + statSync(join(a, f)).size, 0);
    const sameFiles = (): boolean => {
      const mine = replicatedFiles(a);
      try {
        return JSON.stringify(replicatedFiles(b)) === JSON.stringify(mine) && mine.every((f) => readFileSync(join(b, f)).equals(readFileSync(join(a, f))));
      } catch {
        return false;
      }
    };
    const snapshot = (follower: FollowerReplication): Snapshot => ({
      catchUpsSent: lines.filter((l) => l.msg === 'replication: catch-up sent').length,
      bytesApplied: follower.bytesApplied,
      sameFiles: sameFiles(),
    });
    return { a, b, lines, logger, total, snapshot };
  };

  it('a confirm waiting for an in-sync follower that connects after it is not released until that follower acked the end of its catch-up', async () => {
    const { a, b, logger, total, snapshot } = setUp();
    const port = await freePort();
    // F was in the previous leader's in-sync set: confirms wait for it although it is not connected yet.
    const leader = new LeaderReplication(['F'], { dataDir: a, node: 'L', secret: 's3cret', isrTimeout: 120_000, logger, leaseFresh: () => true, writeIsr: async () => true, onNotLeader: () => undefined });
    await leader.start(port, '127.0.0.1');
    onCleanup(() => leader.fence());
    expect(leader.inSync).toEqual(['L', 'F']);

    // A publish to the newest segment (streamed last) before F connects, and its confirm.
    const last = segmentPath(a, SEGMENTS);
    const record = randomBytes(1024);
    const offset = statSync(last).size;
    appendFileSync(last, record);
    leader.appended(last, offset, [record]);
    let confirmed: Snapshot | null = null;
    const follower = new FollowerReplication({ dataDir: b, node: 'F', secret: 's3cret', fsync: true, logger });
    onCleanup(() => follower.stop());
    leader.whenReplicated(() => (confirmed = snapshot(follower)));
    expect(confirmed).toBeNull();

    follower.follow(`127.0.0.1:${port}`);
    await waitFor(() => confirmed !== null, { what: 'the confirm', timeout: 120_000 });
    const at = confirmed! as Snapshot;
    // Released only once F held everything: the whole catch-up applied, an exact copy, the record included.
    expect(at.catchUpsSent).toBe(1);
    expect(at.bytesApplied).toBe(total());
    expect(at.sameFiles).toBe(true);
    expect(readFileSync(join(b, 'messages', '00000003.wlog')).subarray(8 * MB).equals(record)).toBe(true);
    expect(leader.inSync).toEqual(['L', 'F']);
    follower.stop();
    leader.fence();
  }, 180_000);

  it('a joining follower enters the in-sync set only once it holds everything the catch-up sent', async () => {
    const { a, b, logger, total, snapshot } = setUp();
    const port = await freePort();
    let joined: Snapshot | null = null;
    let follower: FollowerReplication | null = null;
    // The ISR write naming F is sent the moment the leader counts F as caught up.
    const writeIsr = async (members: string[]): Promise<boolean> => {
      if (members.includes('F') && joined === null) joined = snapshot(follower!);
      return true;
    };
    const leader = new LeaderReplication([], { dataDir: a, node: 'L', secret: 's3cret', isrTimeout: 120_000, logger, leaseFresh: () => true, writeIsr, onNotLeader: () => undefined });
    await leader.start(port, '127.0.0.1');
    onCleanup(() => leader.fence());

    follower = new FollowerReplication({ dataDir: b, node: 'F', secret: 's3cret', fsync: true, logger });
    onCleanup(() => follower!.stop());
    follower.follow(`127.0.0.1:${port}`);
    await waitFor(() => leader.inSync.includes('F'), { what: 'the follower in sync', timeout: 120_000 });
    const at = joined! as Snapshot;
    expect(at.catchUpsSent).toBe(1);
    expect(at.bytesApplied).toBe(total());
    expect(at.sameFiles).toBe(true);
    follower.stop();
    leader.fence();
  }, 180_000);

  it('a confirm waiting for an in-sync follower that reconnects before its removal is stored is not released until it acked the end of its new catch-up', async () => {
    const { a, b, lines, logger, snapshot } = setUp();
    const port = await freePort();
    // The ISR write removing F hangs (etcd slow) until released: meanwhile F still gates confirms.
    let blockRemoval = false;
    let releaseRemoval = (): void => undefined;
    const removal = new Promise<void>((r) => (releaseRemoval = r));
    const writeIsr = async (members: string[]): Promise<boolean> => {
      if (blockRemoval && !members.includes('F')) await removal;
      return true;
    };
    const leader = new LeaderReplication([], { dataDir: a, node: 'L', secret: 's3cret', isrTimeout: 120_000, logger, leaseFresh: () => true, writeIsr, onNotLeader: () => undefined });
    await leader.start(port, '127.0.0.1');
    onCleanup(() => leader.fence());
    onCleanup(releaseRemoval);
    const follower = new FollowerReplication({ dataDir: b, node: 'F', secret: 's3cret', fsync: true, logger });
    onCleanup(() => follower.stop());
    follower.follow(`127.0.0.1:${port}`);
    await waitFor(() => leader.inSync.includes('F'), { what: 'the follower in sync', timeout: 120_000 });

    blockRemoval = true;
    follower.stop();
    await waitFor(() => lines.some((l) => l.msg === 'replication: follower disconnected'), { what: 'the disconnection seen by the leader' });
    // 8 MB published while F is away (a new segment, streamed to F when it comes back), and its confirm.
    const segment = segmentPath(a, SEGMENTS + 1);
    const data = randomBytes(8 * MB);
    writeFileSync(segment, data);
    leader.appended(segment, 0, [data]);
    let confirmed: Snapshot | null = null;
    leader.whenReplicated(() => (confirmed = snapshot(follower)));
    expect(confirmed).toBeNull();
    expect(leader.inSync).toEqual(['L', 'F']);

    follower.follow(`127.0.0.1:${port}`);
    await waitFor(() => confirmed !== null, { what: 'the confirm', timeout: 120_000 });
    const at = confirmed! as Snapshot;
    expect(at.catchUpsSent).toBe(2);
    expect(at.bytesApplied).toBe(lines.filter((l) => l.msg === 'replication: catch-up sent')[1]!.bytes);
    expect(at.bytesApplied).toBeGreaterThanOrEqual(8 * MB);
    expect(at.sameFiles).toBe(true);
    releaseRemoval();
    follower.stop();
    leader.fence();
  }, 180_000);
});
