import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import type { MessageLog } from '../../src/store/message-log.js';
import { connect, queueStats, startBroker } from '../helpers/broker.js';
import { txCommit, txSelect } from '../helpers/model.js';

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-durable-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function declareDurable(broker: Broker, queue: string): Promise<void> {
  const conn = await connect(broker);
  const ch = await conn.createChannel();
  await ch.assertQueue(queue, { durable: true });
  await conn.close();
}

async function publishConfirmed(broker: Broker, queue: string, bodies: string[], persistent = true): Promise<void> {
  const conn = await connect(broker);
  const ch = await conn.createConfirmChannel();
  for (const b of bodies) ch.sendToQueue(queue, Buffer.from(b), { persistent, messageId: b });
  await ch.waitForConfirms();
  await conn.close();
}

async function drain(broker: Broker, queue: string): Promise<{ body: string; redelivered: boolean }[]> {
  const conn = await connect(broker);
  const ch = await conn.createChannel();
  const out: { body: string; redelivered: boolean }[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) break;
    out.push({ body: m.content.toString(), redelivered: m.fields.redelivered });
  }
  await conn.close();
  return out;
}

describe('durability across restarts', () => {
  it('keeps durable exchanges, queues, bindings and arguments; drops transient ones', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    let conn = await connect(broker);
    let ch = await conn.createChannel();
    await ch.assertExchange('dx', 'topic', { durable: true, arguments: { 'alternate-exchange': 'alt' } });
    await ch.assertExchange('tx', 'fanout', { durable: false });
    await ch.assertQueue('dq', { durable: true, arguments: { 'x-message-ttl': 60000, 'x-max-length': 5 } });
    await ch.assertQueue('tq', { durable: false });
    await ch.assertQueue('xq', { durable: true, exclusive: true });
    await ch.bindQueue('dq', 'dx', 'a.*');
    await ch.bindQueue('dq', 'amq.direct', 'k');
    await ch.bindQueue('tq', 'dx', 'b.#');
    await conn.close();
    await broker.stop();

    broker = await startBroker({ dataDir: dir });
    conn = await connect(broker);
    ch = await conn.createChannel();
    const exchanges = broker.exchanges('/');
    expect(exchanges.find((x) => x.name === 'dx')).toMatchObject({ type: 'topic', durable: true, arguments: { 'alternate-exchange': 'alt' } });
    expect(exchanges.some((x) => x.name === 'tx')).toBe(false);
    expect(broker.queues('/').map((q) => [q.name, q.arguments])).toEqual([['dq', { 'x-message-ttl': 60000, 'x-max-length': 5 }]]);
    // Same arguments: an equivalent redeclare is accepted.
    await ch.assertQueue('dq', { durable: true, arguments: { 'x-message-ttl': 60000, 'x-max-length': 5 } });
    // Bindings between durable ends came back and route (confirms make sure both publishes were handled).
    const pub = await conn.createConfirmChannel();
    pub.publish('dx', 'a.x', Buffer.from('via-topic'));
    pub.publish('amq.direct', 'k', Buffer.from('via-direct'));
    await pub.waitForConfirms();
    await conn.close();
    const got = await drain(broker, 'dq');
    expect(got.map((m) => m.body)).toEqual(['via-topic', 'via-direct']);
    await broker.stop();
  });

  it('recovers confirmed persistent messages in order, marks delivered ones redelivered, forgets acked ones', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    await declareDurable(broker, 'q');
    await publishConfirmed(broker, 'q', ['m1', 'm2', 'm3', 'm4', 'm5']);
    await publishConfirmed(broker, 'q', ['t1'], false); // transient: gone after restart
    // Ack m1; take m2 without acking (delivered, then requeued at close).
    const c2 = await connect(broker);
    const ch2 = await c2.createChannel();
    const m1 = await ch2.get('q');
    expect(m1 && m1.content.toString()).toBe('m1');
    ch2.ack(m1 as import('amqplib').GetMessage);
    const m2 = await ch2.get('q');
    expect(m2 && m2.content.toString()).toBe('m2');
    await c2.close();
    await broker.stop();

    broker = await startBroker({ dataDir: dir });
    expect(await drain(broker, 'q')).toEqual([
      { body: 'm2', redelivered: true },
      { body: 'm3', redelivered: false },
      { body: 'm4', redelivered: false },
      { body: 'm5', redelivered: false },
    ]);
    await broker.stop();
    // Everything was acked (no-ack gets): a third start finds nothing.
    broker = await startBroker({ dataDir: dir });
    expect(await drain(broker, 'q')).toEqual([]);
    await broker.stop();
  });

  it('commits persistent messages of a transaction to disk before tx.commit-ok', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    await ch.assertQueue('txq', { durable: true });
    await txSelect(ch);
    ch.sendToQueue('txq', Buffer.from('in-tx-1'), { persistent: true });
    ch.sendToQueue('txq', Buffer.from('in-tx-2'), { persistent: true });
    await txCommit(ch);
    const log = broker.vhosts.get('/')!.log as MessageLog;
    expect(log.synced).toBe(true); // commit-ok came after the fdatasync
    await conn.close();
    await broker.stop();
    broker = await startBroker({ dataDir: dir });
    expect((await drain(broker, 'txq')).map((m) => m.body)).toEqual(['in-tx-1', 'in-tx-2']);
    await broker.stop();
  });

  it('drops a torn tail record and keeps every complete record before it', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    await declareDurable(broker, 'q');
    await publishConfirmed(broker, 'q', ['a', 'b', 'c']);
    await broker.stop();
    const segDir = join(dir, 'messages');
    const seg = join(segDir, readdirSync(segDir).sort().at(-1)!);
    truncateSync(seg, statSync(seg).size - 3); // crash in the middle of writing 'c'
    broker = await startBroker({ dataDir: dir });
    expect((await drain(broker, 'q')).map((m) => m.body)).toEqual(['a', 'b']);
    await broker.stop();
  });

  it('refuses a second broker on the same data directory; starts on a definitions file with corrupt records, without them', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    await expect(startBroker({ dataDir: dir })).rejects.toThrow(/in use/);
    await declareDurable(broker, 'kept');
    await broker.stop();
    const path = join(dir, 'definitions.log');
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"op":"queue","vhost":"/"\n{not json}\n`);
    broker = await startBroker({ dataDir: dir });
    expect(broker.queues('/').map((q) => q.name)).toEqual(['kept']);
    await broker.stop();
  });

  it('restores a queue whose stored arguments this version refuses with default behaviour, keeping its messages, and logs it', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir });
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    await ch.assertQueue('odd', { durable: true, arguments: { 'x-max-length': 10 } });
    await conn.close();
    await publishConfirmed(broker, 'odd', ['m1', 'm2']);
    await broker.stop();
    // As if an older version had accepted a string max-length: rewrite the record's arguments.
    const path = join(dir, 'definitions.log');
    const refused = Buffer.concat([Buffer.from([0, 0, 0, 20, 12]), Buffer.from('x-max-length'), Buffer.from('S'), Buffer.from([0, 0, 0, 2]), Buffer.from('ab')]);
    const lines = readFileSync(path, 'utf8').split('\n').map((l) => (l.includes('"name":"odd"') ? JSON.stringify({ ...JSON.parse(l), args: refused.toString('base64') }) : l));
    writeFileSync(path, lines.join('\n'));
    const records: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) });

    broker = await startBroker({ dataDir: dir, logger });
    expect(queueStats(broker, 'odd').arguments).toEqual({ 'x-max-length': 'ab' });
    expect((await drain(broker, 'odd')).map((m) => m.body)).toEqual(['m1', 'm2']);
    const logged = records.find((r) => r['msg'] === 'definitions: stored queue arguments are not valid; restoring the queue without them')!;
    expect([logged['level'], logged['queue'], logged['vhost']]).toEqual([50, 'odd', '/']);
    expect(logged['err']).toBe("PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'odd' in vhost '/': {unacceptable_type,longstr}");
    await broker.stop();
  });

  it('pages a backlog beyond the memory window to disk and delivers it back in order', async () => {
    const dir = dataDir();
    const broker = await startBroker({ dataDir: dir, queueMemoryWindow: 50, fsync: false });
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    await ch.assertQueue('deep', { durable: true });
    await conn.close();
    const bodies = Array.from({ length: 500 }, (_, i) => `p${i}`);
    await publishConfirmed(broker, 'deep', bodies.slice(0, 250));
    await publishConfirmed(broker, 'deep', bodies.slice(250, 300), false); // transient ones are paged too, in order
    await publishConfirmed(broker, 'deep', bodies.slice(300));
    const q = broker.vhosts.get('/')!.queues.get('deep')!;
    expect(q.ready.length).toBe(50);
    expect(q.messageCount).toBe(500);
    expect((await drain(broker, 'deep')).map((m) => m.body)).toEqual(bodies);
    await broker.stop();
  });

  it('pages the transient backlog of a non-durable queue too, and never recovers it', async () => {
    const dir = dataDir();
    let broker = await startBroker({ dataDir: dir, queueMemoryWindow: 40, fsync: false });
    const conn = await connect(broker);
    const ch = await conn.createChannel();
    await ch.assertQueue('scratch', { durable: false });
    await ch.assertQueue('keep', { durable: true });
    await conn.close();
    const bodies = Array.from({ length: 300 }, (_, i) => `t${i}`);
    await publishConfirmed(broker, 'scratch', bodies, false);
    await publishConfirmed(broker, 'keep', ['k1'], false);
    const q = broker.vhosts.get('/')!.queues.get('scratch')!;
    expect(q.ready.length).toBe(40);
    expect(q.usage().messagesPagedOut).toBe(260);
    expect((await drain(broker, 'scratch')).map((m) => m.body)).toEqual(bodies);
    await publishConfirmed(broker, 'scratch', ['left-behind'], true);
    await broker.stop();
    broker = await startBroker({ dataDir: dir });
    expect(broker.queues('/').some((q) => q.name === 'scratch')).toBe(false);
    expect(await drain(broker, 'keep')).toEqual([]); // transient: gone
    await broker.stop();
  });
});
