/**
 * A follower joining the in-sync set becomes eligible to lead (node.ts
 * campaigns only when etcd's ISR names it) as soon as etcd has the new set,
 * which is before the leader hears etcd's answer. From the moment the leader
 * asks etcd to add it, confirms must wait for it too: released without it in
 * that window, a confirmed message could be missing on the node that wins the
 * next election. Real leader and follower over loopback; etcd's ISR write is
 * the one thing held back by the test (its answer is what the window is).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FollowerReplication } from '../../src/cluster/follower-replication.js';
import { LeaderReplication } from '../../src/cluster/leader-replication.js';
import { eventually } from '../helpers/broker.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-isr-'));
  dirs.push(d);
  return d;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('leader replication: a follower joining the in-sync set', () => {
  it('gates confirms from the moment its ISR write goes to etcd, not from etcd\'s answer', async () => {
    const logger = pino({ level: 'silent' });
    const leaderDir = tempDir();
    const followerDir = tempDir();
    const isrWrites: string[][] = [];
    let answerJoin: (ok: boolean) => void = () => undefined;
    const leader = new LeaderReplication([], {
      dataDir: leaderDir,
      node: 'a',
      secret: 's3cret',
      isrTimeout: 60_000,
      logger,
      leaseFresh: () => true,
      writeIsr: (members) => {
        isrWrites.push(members);
        // The first write (the leader's own start) is answered at once; the join is held back.
        if (isrWrites.length === 1) return Promise.resolve(true);
        return new Promise<boolean>((resolve) => (answerJoin = resolve));
      },
      onNotLeader: () => undefined,
    });
    const port = await freePort();
    await leader.start(port, '127.0.0.1');
    const follower = new FollowerReplication({ dataDir: followerDir, node: 'b', secret: 's3cret', fsync: false, logger });
    try {
      follower.follow(`127.0.0.1:${port}`);
      // The follower caught up and acked: the leader has asked etcd to add it.
      await eventually(() => isrWrites.length === 2, 10_000, 'the ISR write adding the follower');
      expect(isrWrites[1]).toEqual(['a', 'b']);

      // etcd may already hold {a, b} (b can now win an election): a confirm must wait for b.
      const path = join(leaderDir, 'messages', '00000001.wlog');
      leader.appended(path, 0, [Buffer.from('confirmed message')]);
      let released = false;
      leader.whenReplicated(() => (released = true));
      expect(released).toBe(false);
      await eventually(() => released, 10_000, 'the confirm once the follower acked');
      expect(readFileSync(join(followerDir, 'messages', '00000001.wlog'), 'utf8')).toBe('confirmed message');

      answerJoin(true);
      await eventually(() => leader.inSync.includes('b'), 10_000, 'b in sync');
    } finally {
      follower.stop();
      leader.fence();
    }
  });
});
