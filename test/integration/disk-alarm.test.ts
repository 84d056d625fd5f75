/**
 * The disk alarm and a full disk. Below diskFreeLimit publishers are blocked
 * (connection.blocked "low on disk") while consumers drain; a message-log
 * write that still fails nacks the publishes it carried, the broker keeps
 * serving and retries until space returns; a definitions change that cannot
 * be journaled is refused (541) and the model is unchanged; the broker starts
 * on a full disk and serves what it has; a fatal store error exits non-zero.
 *
 * Real disks filling up: a small tmpfs (tests run as root). The forced write
 * failure uses the message log's injectable file operations.
 */
import { fdatasync, writev, type PathLike } from 'node:fs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, LogFileIo } from '../../src/index.js';
import { closedWith, connect, eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { startChildBroker, type ChildBroker } from '../helpers/child-broker.js';
import { consume } from '../helpers/model.js';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

const brokers: Broker[] = [];
const conns: AmqpConnection[] = [];
const disks: Tmpfs[] = [];
const dirs: string[] = [];
const children: ChildBroker[] = [];

afterEach(async () => {
  await Promise.allSettled(conns.splice(0).map((c) => c.close()));
  await Promise.all(brokers.splice(0).map((b) => b.stop()));
  for (const child of children.splice(0)) {
    if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    await child.exited;
  }
  for (const d of disks.splice(0)) d.unmount();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function broker(options: Parameters<typeof startBroker>[0]): Promise<Broker> {
  const b = await startBroker(options);
  brokers.push(b);
  return b;
}

async function amqpConn(url: string | Broker): Promise<AmqpConnection> {
  const c = typeof url === 'string' ? await amqp.connect(url) : await connect(url);
  c.on('error', () => {});
  conns.push(c);
  return c;
}

function tmpfs(size: number): Tmpfs {
  const t = mountTmpfs(size);
  disks.push(t);
  return t;
}

function tmpDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-disk-'));
  dirs.push(d);
  return d;
}

/** Records connection.blocked / unblocked as amqplib reports them. */
function blockEvents(c: AmqpConnection): string[] {
  const events: string[] = [];
  c.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
  c.on('unblocked', () => events.push('unblocked'));
  return events;
}

/** Publishes on a confirm channel; resolves 'ack' or 'nack'. */
function publishConfirmed(ch: amqp.ConfirmChannel, queue: string, body: string): Promise<'ack' | 'nack'> {
  return new Promise((resolve) => ch.sendToQueue(queue, Buffer.from(body), { persistent: true }, (err) => resolve(err ? 'nack' : 'ack')));
}

const MB = 1_000_000;

describe('disk alarm', () => {
  it('below diskFreeLimit publishers are blocked ("low on disk") while a consumer drains; freeing space unblocks them and the held publish is confirmed', async () => {
    const disk = tmpfs(24 * MB);
    const b = await broker({ dataDir: disk.dir, diskFreeLimit: '8MB', diskCheckInterval: 20 });
    expect(b.diskAlarm).toBe(false);
    const publisher = await amqpConn(b);
    const events = blockEvents(publisher);
    const pub = await publisher.createConfirmChannel();
    await pub.assertQueue('disk-q', { durable: true });
    for (let i = 0; i < 10; i++) expect(await publishConfirmed(pub, 'disk-q', `before-${i}`)).toBe('ack');

    disk.leaveFree(4 * MB);
    await eventually(() => b.diskAlarm, WAIT_MS, 'the disk alarm');
    const held = publishConfirmed(pub, 'disk-q', 'held');
    await eventually(() => events.length > 0, WAIT_MS, 'connection.blocked');
    expect(events).toEqual(['blocked: low on disk']);

    // A consumer on its own connection drains the queue (and its acks are logged).
    const consumer = await amqpConn(b);
    const cch = await consumer.createChannel();
    const inbox = await consume(cch, 'disk-q', {}, (m) => cch.ack(m));
    await inbox.waitFor(10);
    expect(inbox.bodies.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `before-${i}`));
    expect(b.diskAlarm).toBe(true);

    disk.drain();
    await eventually(() => !b.diskAlarm, WAIT_MS, 'the disk alarm to clear');
    await eventually(() => events.length === 2, WAIT_MS, 'connection.unblocked');
    expect(events).toEqual(['blocked: low on disk', 'unblocked']);
    expect(await held).toBe('ack');
    await inbox.waitFor(11);
    expect(inbox.bodies.slice(10)).toEqual(['held']);
  });

  it('setDiskAlarm(true|false|null) forces the alarm and hands it back to the sampler; with both alarms the reason names both', async () => {
    // A limit of 0: the sampler itself never sets the alarm, whatever this machine's free space.
    const b = await broker({ dataDir: tmpDir(), diskFreeLimit: 0, diskCheckInterval: 20 });
    const c = await amqpConn(b);
    const events = blockEvents(c);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('forced');
    b.setMemoryAlarm(true);
    b.setDiskAlarm(true);
    expect(b.diskAlarm).toBe(true);
    const held = publishConfirmed(ch, 'forced', 'x');
    await eventually(() => events.length === 1, WAIT_MS, 'connection.blocked');
    expect(events).toEqual(['blocked: low on memory & low on disk']);
    b.setMemoryAlarm(false);
    // The disk alarm still holds the connection.
    expect(b.diskAlarm).toBe(true);
    b.setDiskAlarm(null);
    // Back to the sampler, which finds free space above the limit: cleared.
    expect(b.diskAlarm).toBe(false);
    await eventually(() => events.length === 2, WAIT_MS, 'connection.unblocked');
    expect(await held).toBe('ack');
  });
});

describe('a message-log write that fails for lack of space', () => {
  it('nacks the publishes it carried, sets the disk alarm, keeps serving, and retries: a publish after recovery is confirmed', async () => {
    let full = false;
    let failedWrites = 0;
    // The broker's fault-injection seam: the message log writes through these file operations.
    const messageLogIo: LogFileIo = {
      fdatasync,
      writev: ((fd: number, buffers: NodeJS.ArrayBufferView[], position: number | null, cb: (err: NodeJS.ErrnoException | null, bytes: number, buffers: NodeJS.ArrayBufferView[]) => void) => {
        if (!full) return writev(fd, buffers, position, cb);
        failedWrites++;
        const err = Object.assign(new Error('ENOSPC: no space left on device, writev'), { code: 'ENOSPC', errno: -28, syscall: 'writev' });
        process.nextTick(() => cb(err, 0, buffers));
      }) as typeof writev,
    };
    const b = await broker({ dataDir: tmpDir(), messageLogIo });
    const publisher = await amqpConn(b);
    const events = blockEvents(publisher);
    const pub = await publisher.createConfirmChannel();
    await pub.assertQueue('log-full', { durable: true });
    expect(await publishConfirmed(pub, 'log-full', 'kept')).toBe('ack');

    full = true;
    expect(await publishConfirmed(pub, 'log-full', 'unwritten')).toBe('nack');
    expect(failedWrites).toBeGreaterThan(0);
    await eventually(() => b.diskAlarm, WAIT_MS, 'the disk alarm');

    // The broker keeps serving: another connection declares and consumes.
    const consumer = await amqpConn(b);
    const cch = await consumer.createChannel();
    await cch.assertQueue('still-serving');
    const first = await cch.get('log-full', { noAck: false });
    expect(first && first.content.toString()).toBe('kept');
    cch.nack(first as amqp.GetMessage, false, true);

    // The publisher is blocked at its next publish, which waits.
    const held = publishConfirmed(pub, 'log-full', 'held');
    await eventually(() => events.length === 1, WAIT_MS, 'connection.blocked');
    expect(events).toEqual(['blocked: low on disk']);

    // Space returns: the retried write succeeds, the alarm clears, publishing resumes.
    full = false;
    await eventually(() => !b.diskAlarm, WAIT_MS, 'the disk alarm to clear after a successful retry');
    await eventually(() => events.length === 2, WAIT_MS, 'connection.unblocked');
    expect(await held).toBe('ack');
    expect(await publishConfirmed(pub, 'log-full', 'after')).toBe('ack');
  });

  it('on a real full disk (tmpfs): nack, then confirmed again once space is freed', async () => {
    const disk = tmpfs(16 * MB);
    const b = await broker({ dataDir: disk.dir, diskFreeLimit: 0, diskCheckInterval: 20 });
    const c = await amqpConn(b);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('tmpfs-q', { durable: true });
    disk.fill();
    // A body bigger than anything left: the write cannot succeed.
    const big = 'x'.repeat(256 * 1024);
    const outcome = await new Promise<'ack' | 'nack'>((resolve) => ch.sendToQueue('tmpfs-q', Buffer.from(big), { persistent: true }, (err) => resolve(err ? 'nack' : 'ack')));
    expect(outcome).toBe('nack');
    await eventually(() => b.diskAlarm, WAIT_MS, 'the disk alarm');
    disk.drain();
    await eventually(() => !b.diskAlarm, WAIT_MS, 'the disk alarm to clear');
    expect(await publishConfirmed(ch, 'tmpfs-q', 'after')).toBe('ack');
  });
});

describe('definitions on a full disk', () => {
  it('a declare that cannot be journaled is refused with 541 and changes nothing; after a restart exactly the acknowledged queues exist', async () => {
    const disk = tmpfs(8 * MB);
    const b = await broker({ dataDir: disk.dir, diskFreeLimit: 0 });
    const c = await amqpConn(b);
    const ch = await c.createChannel();
    await ch.assertQueue('before-full', { durable: true });
    disk.fill();
    const closed = closedWith(c);
    const declared: string[] = [];
    let refused = '';
    // The journal's last page may still take a few lines: declare until one is refused.
    for (let i = 0; i < 500; i++) {
      const name = `journaled-queue-number-${i}`;
      try {
        await ch.assertQueue(name, { durable: true });
        declared.push(name);
      } catch {
        refused = name;
        break;
      }
    }
    expect(refused).not.toBe('');
    const err = await closed;
    expect(err.code).toBe(541);
    expect(err.message).toContain(`INTERNAL_ERROR - cannot declare queue '${refused}' in vhost '/': the definitions journal could not be written (ENOSPC`);
    const queues = new Set(b.queues('/').map((q) => q.name));
    expect(queues.has(refused)).toBe(false);
    for (const name of declared) expect(queues.has(name)).toBe(true);

    disk.drain();
    const c2 = await amqpConn(b);
    const ch2 = await c2.createChannel();
    await ch2.assertQueue('after-full', { durable: true });
    await b.stop();
    brokers.splice(brokers.indexOf(b), 1);

    const again = await broker({ dataDir: disk.dir });
    const names = again.queues('/').map((q) => q.name).sort();
    expect(names).toEqual(['after-full', 'before-full', ...declared].sort());
  });
});

describe('users, permissions and vhosts on a full disk', () => {
  it('a change that cannot be journaled throws and changes nothing; after a restart exactly the journaled changes exist', async () => {
    const disk = tmpfs(8 * MB);
    const b = await broker({ dataDir: disk.dir, diskFreeLimit: 0 });
    const names = Array.from({ length: 60 }, (_, i) => `d-${i + 10}`);
    for (const name of names) b.createVhost(name);
    b.addUser('alice', 'pw', []);
    disk.fill();
    // The journal's last page may still take a few lines: delete until one is refused.
    const deleted: string[] = [];
    let refused = '';
    for (const name of names) {
      try {
        await b.deleteVhost(name);
        deleted.push(name);
      } catch (err) {
        expect((err as Error).message).toMatch(/^the definitions journal could not be written \(ENOSPC/);
        refused = name;
        break;
      }
    }
    expect(refused).not.toBe('');
    const vhosts = (): string[] => b.listVhosts().map((v) => v.name);
    expect(vhosts()).toContain(refused);
    for (const name of deleted) expect(vhosts()).not.toContain(name);
    // Every record below is longer than the refused one: all are refused, nothing changes.
    expect(() => b.createVhost('during-full')).toThrow(/definitions journal could not be written/);
    expect(vhosts()).not.toContain('during-full');
    expect(() => b.addUser('bob', 'pw', [])).toThrow(/definitions journal could not be written/);
    expect(b.listUsers().map((u) => u.name)).not.toContain('bob');
    expect(() => b.setPermissions('alice', refused, { configure: '.*', write: '.*', read: '.*' })).toThrow(/definitions journal could not be written/);
    expect(b.access.permission('alice', refused)).toBeUndefined();

    disk.drain();
    await b.stop();
    brokers.splice(brokers.indexOf(b), 1);
    const again = await broker({ dataDir: disk.dir });
    expect(again.listVhosts().map((v) => v.name).sort()).toEqual(['/', ...names.filter((n) => !deleted.includes(n))].sort());
    expect(again.listUsers().map((u) => u.name)).toContain('alice');
    expect(again.listUsers().map((u) => u.name)).not.toContain('bob');
  });
});

describe('start-up and fatal errors (child processes)', () => {
  it('restarts on a full disk and serves what it has: messages consumed, publishers blocked; SIGTERM exits 0', async () => {
    const disk = tmpfs(16 * MB);
    const args = ['--data-dir', disk.dir, '--disk-free-limit', '1MB', '--log-level', 'info'];
    const first = await startChildBroker(args);
    children.push(first);
    const url = `amqp://guest:guest@127.0.0.1:${first.port}`;
    const c = await amqpConn(url);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('kept', { durable: true });
    for (let i = 0; i < 20; i++) ch.sendToQueue('kept', Buffer.from(`m-${i}`), { persistent: true });
    await ch.waitForConfirms();
    await c.close();
    conns.splice(conns.indexOf(c), 1);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    disk.fill();
    const second = await startChildBroker(args);
    children.push(second);
    expect(second.lines.some((l) => l.msg === 'disk resource limit alarm set: publishers will be blocked until this alarm clears')).toBe(true);
    // Start-up could not rewrite definitions.log (it used to exit here): it kept the journal as it was.
    expect(second.lines.some((l) => String(l.msg).startsWith('disk full: definitions journal kept as it is'))).toBe(true);
    const url2 = `amqp://guest:guest@127.0.0.1:${second.port}`;
    const consumer = await amqpConn(url2);
    const cch = await consumer.createChannel();
    const inbox = await consume(cch, 'kept', {}, (m) => cch.ack(m));
    await inbox.waitFor(20);
    expect(inbox.bodies).toEqual(Array.from({ length: 20 }, (_, i) => `m-${i}`));

    const publisher = await amqpConn(url2);
    const events = blockEvents(publisher);
    const pch = await publisher.createChannel();
    pch.sendToQueue('kept', Buffer.from('not now'), { persistent: true });
    await eventually(() => events.length === 1, 10_000, 'connection.blocked');
    expect(events).toEqual(['blocked: low on disk']);
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('a fatal message-store error (EIO) stops the broker with a non-zero exit code', async () => {
    const dir = tmpDir();
    const trigger = join(dir, 'fail-writes');
    const preload = pathToFileURL(fileURLToPath(new URL('../helpers/fs-faults.mjs', import.meta.url))).href;
    const child = await startChildBroker(['--data-dir', join(dir, 'data'), '--log-level', 'info'], { NODE_OPTIONS: `--import=${preload}`, WARREN_FAULT_EIO: trigger });
    children.push(child);
    const c = await amqpConn(`amqp://guest:guest@127.0.0.1:${child.port}`);
    const ch = await c.createConfirmChannel();
    await ch.assertQueue('eio', { durable: true });
    writeFileSync(trigger as PathLike, '');
    ch.sendToQueue('eio', Buffer.from('x'), { persistent: true }, () => {});
    const { code } = await child.exited;
    expect(code).toBe(1);
    // The process may exit before the test has read all of its output.
    await eventually(() => child.lines.some((l) => l.msg === 'message store failed; stopping the broker'), 10_000, 'the fatal log line');
  });
});
