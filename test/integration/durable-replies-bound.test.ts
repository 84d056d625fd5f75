/**
 * Frames held behind a reply that waits for durability are bounded: a client
 * pipelining publishes behind a tx.commit-ok whose fdatasync does not return
 * (a slow disk here; followers slow to acknowledge, or a full disk, alike)
 * has its connection no longer read once a few hundred frames are held, and
 * every publish is handled, in order, once the reply is sent.
 */
import { fdatasync, mkdtempSync, rmSync, writev } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, LogFileIo } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { connect, eventually, queueStats, serverSideOf, startBroker } from '../helpers/broker.js';
import { RawClient, bodyFrames, headerFrame, methodFrame } from '../helpers/raw-client.js';
import { WAIT_MS } from '../helpers/wait.js';

/** The message log's fdatasync, held while `holding` (its callbacks wait in `held`). */
class SlowDisk {
  holding = false;
  private held: { fd: number; cb: (err: NodeJS.ErrnoException | null) => void }[] = [];
  readonly io: LogFileIo = {
    writev,
    fdatasync: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
      if (this.holding) this.held.push({ fd, cb });
      else fdatasync(fd, cb);
    }) as LogFileIo['fdatasync'],
  };

  get waiting(): number {
    return this.held.length;
  }

  release(): void {
    this.holding = false;
    for (const { fd, cb } of this.held.splice(0)) fdatasync(fd, cb);
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** "(N frames held)" from the connection's in-flight description (Broker.whenIdle's). */
function heldFrames(broker: Broker, client: RawClient): number {
  const out: string[] = [];
  serverSideOf(broker, client.socket.localPort!).describeInFlight(false, out);
  const line = out.find((l) => l.includes('frames held'));
  return line ? Number(/\((\d+) frames held\)/.exec(line)![1]) : 0;
}

describe('frames held behind a waiting reply', () => {
  it('stops reading a client pipelining publishes behind a waiting tx.commit-ok, then handles them all in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-held-bound-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const disk = new SlowDisk();
    const broker = await startBroker({ dataDir: dir, fsync: true, messageLogIo: disk.io });
    cleanup.push(() => broker.stop());
    cleanup.push(() => disk.release()); // a failed assertion must not leave the broker's stop waiting on the disk
    const c = await RawClient.open(broker.port);
    cleanup.push(() => c.destroy());
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'held-bound', durable: true } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    c.sendMethod(1, { id: MethodId.TxSelect, args: {} });
    await c.waitForMethod(MethodId.TxSelectOk, 1);

    const publish = (n: number): Buffer[] => {
      const body = Buffer.from(`m-${n}`);
      return [
        methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: '', routingKey: 'held-bound' } }),
        headerFrame(1, body.length, { deliveryMode: 2 }),
        bodyFrames(1, body, c.frameMax),
      ];
    };
    // A commit whose fdatasync is held, then COUNT publishes and a second commit pipelined behind it.
    const COUNT = 40_000;
    disk.holding = true;
    const parts = [...publish(0), methodFrame(1, { id: MethodId.TxCommit, args: {} })];
    for (let n = 1; n <= COUNT; n++) parts.push(...publish(n));
    parts.push(methodFrame(1, { id: MethodId.TxCommit, args: {} }));
    const pipeline = Buffer.concat(parts);
    c.send(pipeline);

    const server = serverSideOf(broker, c.socket.localPort!);
    await eventually(() => disk.waiting > 0 && server.readingPaused, WAIT_MS, 'the broker to stop reading the pipelining client');
    // Held: a few hundred frames plus the rest of the socket read that crossed the limit (at most
    // 64 KiB of frames of at least 8 bytes) — not the 120 000 frames sent.
    const held = heldFrames(broker, c);
    expect(held).toBeGreaterThan(256);
    expect(held).toBeLessThanOrEqual(256 + 65_536 / 8);
    expect(server.socket.bytesRead).toBeLessThan(pipeline.length / 2);
    expect(c.frames.filter((f) => f.method?.id === MethodId.TxCommitOk)).toHaveLength(0);

    disk.release();
    await c.waitForMethod(MethodId.TxCommitOk, 1);
    await c.waitForMethod(MethodId.TxCommitOk, 1);
    expect(heldFrames(broker, c)).toBe(0);
    expect(server.readingPaused).toBe(false);
    expect(queueStats(broker, 'held-bound').messages).toBe(COUNT + 1);

    // Every publish reached the queue, in the order sent.
    const conn = await connect(broker);
    cleanup.push(() => conn.close());
    const ch = await conn.createChannel();
    const bodies: string[] = [];
    await ch.consume('held-bound', (m) => { if (m) bodies.push(m.content.toString()); }, { noAck: true });
    await eventually(() => bodies.length === COUNT + 1, WAIT_MS, 'every message consumed');
    expect(bodies).toEqual(Array.from({ length: COUNT + 1 }, (_, n) => `m-${n}`));
  });

  it('lets go of the held frames, and reads the connection again, when the channel closes while its reply still waits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-held-close-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const disk = new SlowDisk();
    const broker = await startBroker({ dataDir: dir, fsync: true, messageLogIo: disk.io, consumerTimeout: 500 });
    cleanup.push(() => broker.stop());
    cleanup.push(() => disk.release());
    const c = await RawClient.open(broker.port);
    cleanup.push(() => c.destroy());
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'held-close', durable: true } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'held-close-deliveries' } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1);
    c.sendMethod(1, { id: MethodId.BasicConsume, args: { queue: 'held-close-deliveries', consumerTag: 'slow' } });
    await c.waitForMethod(MethodId.BasicConsumeOk, 1);
    c.sendMethod(1, { id: MethodId.TxSelect, args: {} });
    await c.waitForMethod(MethodId.TxSelectOk, 1);

    disk.holding = true;
    const body = Buffer.from('held');
    const publish = Buffer.concat([
      methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: '', routingKey: 'held-close' } }),
      headerFrame(1, body.length, { deliveryMode: 2 }),
      bodyFrames(1, body, c.frameMax),
    ]);
    c.send(Buffer.concat([publish, methodFrame(1, { id: MethodId.TxCommit, args: {} }), ...Array.from({ length: 20_000 }, () => publish)]));
    const server = serverSideOf(broker, c.socket.localPort!);
    await eventually(() => disk.waiting > 0 && server.readingPaused, WAIT_MS, 'the broker to stop reading the pipelining client');

    // A delivery left unacked: consumer_timeout closes channel 1 (the server's channel.close) while its commit-ok waits.
    const other = await connect(broker);
    cleanup.push(() => other.close());
    (await other.createChannel()).sendToQueue('held-close-deliveries', Buffer.from('never acked'));
    const close = await c.waitFor((f) => f.channel === 1 && f.method?.id === MethodId.ChannelClose, WAIT_MS, 'channel.close');
    expect((close.method!.args as { replyCode: number }).replyCode).toBe(406);
    // The held frames are dropped and the connection is read again: the rest of the pipeline is
    // discarded (the channel is closing), then the close-ok frees channel 1 and it opens again.
    c.sendMethod(1, { id: MethodId.ChannelCloseOk, args: {} });
    await c.openChannel(1);
    expect(heldFrames(broker, c)).toBe(0);
    expect(server.readingPaused).toBe(false);
    expect(c.frames.filter((f) => f.method?.id === MethodId.TxCommitOk)).toHaveLength(0);
  });
});
