/**
 * Crash containment for timer callbacks: the delayed login refusal, the
 * testing API's whenIdle() poll and the cluster leader's replication tick.
 * Each runs outside any caller, so a throw there used to be an uncaught
 * exception (the end of the process); now it is logged at error with what
 * failed, and the broker (or the replication) goes on. Faults are injected
 * because the code they would come from is correct today.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LeaderReplication } from '../../src/cluster/leader-replication.js';
import { connect, eventually, serverSideOf, startBroker } from '../helpers/broker.js';
import { capturingLogger, errorLines } from '../helpers/log-capture.js';
import { RawClient } from '../helpers/raw-client.js';
import { withTimeout } from '../helpers/wait.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('timer callbacks that throw', () => {
  it('a delayed login refusal: logged with the connection, the socket closed, the broker serves on', async () => {
    const { logger, lines } = capturingLogger();
    const broker = await startBroker({ logger, users: [{ name: 'alice', password: 'right' }] });
    try {
      // The first failure from the address is refused at once; the second is delayed (a timer).
      const first = await RawClient.connect(broker.port, '127.0.0.1', '127.0.0.7');
      await first.handshake({ user: 'alice', password: 'wrong', until: 'start-ok' });
      expect((await first.expectConnectionClose(5000)).replyCode).toBe(403);

      const second = await RawClient.connect(broker.port, '127.0.0.1', '127.0.0.7');
      await eventually(() => broker.connections().some((c) => c.peer.endsWith(`:${second.socket.localPort}`)), 10_000, 'the server side of the connection');
      const conn = serverSideOf(broker, second.socket.localPort!);
      const injected = (): never => {
        throw new Error('injected refusal failure');
      };
      conn.closeWithError = injected;
      conn.endWithoutClose = injected;
      await second.handshake({ user: 'alice', password: 'wrong', until: 'start-ok' });
      await withTimeout(second.waitClosed(), 10_000, 'the refused socket to be closed');
      const [line] = errorLines(lines);
      expect(line).toMatchObject({ level: 50, task: 'delayed login refusal', conn: conn.id, err: { message: 'injected refusal failure' } });

      const good = await connect(broker, { user: 'alice', password: 'right' });
      const ch = await good.createChannel();
      expect((await ch.assertQueue('still-served')).queue).toBe('still-served');
      await good.close();
    } finally {
      await broker.stop();
    }
  });

  it('broker.whenIdle(): a failing check is logged and rejects the wait, the broker serves on', async () => {
    const { logger, lines } = capturingLogger();
    const broker = await startBroker({ logger });
    try {
      const client = await connect(broker);
      const ch = await client.createChannel();
      await ch.assertQueue('q');
      const local = (client.connection as unknown as { stream: { localPort: number } }).stream.localPort;
      const conn = serverSideOf(broker, local);
      // The first check runs at once (in the caller); the ones after it run from a timer.
      let checks = 0;
      const original = conn.describeInFlight.bind(conn);
      conn.describeInFlight = (includeUnacked, out) => {
        if (++checks > 1) throw new Error('injected probe failure');
        original(includeUnacked, out);
      };
      await expect(broker.whenIdle()).rejects.toThrow('injected probe failure');
      expect(errorLines(lines)[0]).toMatchObject({ level: 50, task: 'broker.whenIdle() check', err: { message: 'injected probe failure' } });
      conn.describeInFlight = original;
      ch.sendToQueue('q', Buffer.from('after'));
      await broker.whenIdle();
      const m = await ch.get('q', { noAck: true });
      expect(m && m.content.toString()).toBe('after');
      await client.close();
    } finally {
      await broker.stop();
    }
  });

  it('the leader replication tick: logged, and the next ticks still release a waiting confirm', async () => {
    const { logger, lines } = capturingLogger();
    const dataDir = mkdtempSync(join(tmpdir(), 'warren-tick-'));
    dirs.push(dataDir);
    let lease: 'stale' | 'throws' | 'fresh' = 'stale';
    const leader = new LeaderReplication([], {
      dataDir,
      node: 'a',
      secret: 's3cret',
      isrTimeout: 60_000,
      logger,
      leaseFresh: () => {
        if (lease === 'throws') throw new Error('injected lease check failure');
        return lease === 'fresh';
      },
      writeIsr: () => Promise.resolve(true),
      onNotLeader: () => undefined,
    });
    await leader.start(0, '127.0.0.1');
    try {
      let released = false;
      leader.whenReplicated(() => (released = true));
      expect(released).toBe(false); // the lease is not fresh: the confirm waits for a tick
      lease = 'throws';
      await eventually(() => errorLines(lines).length > 0, 10_000, 'the error log line');
      expect(errorLines(lines)[0]).toMatchObject({ level: 50, task: 'replication tick', err: { message: 'injected lease check failure' } });
      lease = 'fresh';
      await eventually(() => released, 10_000, 'the confirm released by a later tick');
    } finally {
      leader.fence();
    }
  });
});
