/**
 * A segment the leader just rolled is empty; a follower that comes back may
 * hold bytes under that name (a segment of an older history). The catch-up
 * must leave the follower's copy empty too, not keep the stale bytes: were
 * that follower to lead, they would be read as records. Real replication
 * classes over real sockets.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { replicatedFiles } from '../../src/cluster/file-index.js';
import { FollowerReplication } from '../../src/cluster/follower-replication.js';
import { LeaderReplication } from '../../src/cluster/leader-replication.js';
import { freePort } from '../helpers/etcd.js';
import { scratch } from '../helpers/scratch.js';
import { waitFor } from '../helpers/wait.js';

describe('catch-up of a file that is empty on the leader', () => {
  const { tempDir, onCleanup } = scratch();

  it("a follower's stale bytes under the name of the leader's empty (just rolled) segment are cut to nothing", async () => {
    const a = tempDir('warren-leader-');
    const b = tempDir('warren-follower-');
    for (const d of [a, b]) mkdirSync(join(d, 'messages'));
    const full = randomBytes(64 * 1024);
    writeFileSync(join(a, 'messages', '00000001.wlog'), full);
    writeFileSync(join(a, 'messages', '00000002.wlog'), Buffer.alloc(0));
    // The follower: segment 1 equal, segment 2 with bytes the leader does not have.
    writeFileSync(join(b, 'messages', '00000001.wlog'), full);
    writeFileSync(join(b, 'messages', '00000002.wlog'), randomBytes(4096));

    const logger = pino({ level: 'silent' });
    const port = await freePort();
    const leader = new LeaderReplication([], { dataDir: a, node: 'L', secret: 's3cret', isrTimeout: 60_000, logger, leaseFresh: () => true, writeIsr: async () => true, onNotLeader: () => undefined });
    await leader.start(port, '127.0.0.1');
    onCleanup(() => leader.fence());
    const follower = new FollowerReplication({ dataDir: b, node: 'F', secret: 's3cret', fsync: true, logger });
    onCleanup(() => follower.stop());
    follower.follow(`127.0.0.1:${port}`);
    await waitFor(() => leader.inSync.includes('F'), { what: 'the follower in sync', timeout: 60_000 });

    expect(replicatedFiles(b)).toEqual(['messages/00000001.wlog', 'messages/00000002.wlog']);
    expect(statSync(join(b, 'messages', '00000002.wlog')).size).toBe(0);
    expect(readFileSync(join(b, 'messages', '00000001.wlog')).equals(full)).toBe(true);
    // Segment 1 matched the follower's index: nothing of it was sent again.
    expect(follower.bytesApplied).toBe(0);
    follower.stop();
    leader.fence();
  }, 90_000);
});
