/**
 * Topic permissions (per user, vhost and topic exchange: write and read
 * patterns over routing keys), and consumers re-checked after update-secret.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { ALL, Users, expectRefused } from '../helpers/access.js';
import { Clients, consume, drainBodies, sync } from '../helpers/model.js';

let broker: Broker;
const users = new Users(() => broker);
const admin = new Clients(() => broker);

beforeAll(async () => {
  broker = await startBroker({ vhosts: ['/', 'tenant.a'] });
});
afterEach(async () => {
  await users.closeAll();
  await admin.closeAll();
});
afterAll(async () => {
  await broker.stop();
});

const topicText = (permission: string, key: string, exchange: string, user: string, vhost = '/'): string =>
  `ACCESS_REFUSED - ${permission} access to topic '${key}' in exchange '${exchange}' in vhost '${vhost}' refused for user '${user}'`;

/** A queue bound to amq.topic with '#', emptied. */
async function topicSink(name: string): Promise<import('amqplib').Channel> {
  const a = await admin.channel();
  await a.assertQueue(name);
  await a.purgeQueue(name);
  await a.bindQueue(name, 'amq.topic', '#');
  return a;
}

describe('topic permissions', () => {
  it('publish: the routing key must match the write pattern', async () => {
    const a = await topicSink('t-pub');
    const { ch, user } = await users.channelAs(ALL);
    broker.setTopicPermissions(user, '/', 'amq.topic', { write: '^a\\.', read: '.*' });
    ch.publish('amq.topic', 'a.b', Buffer.from('allowed'));
    await expectRefused(ch, () => ch.publish('amq.topic', 'x.y', Buffer.from('refused')), topicText('write', 'x.y', 'amq.topic', user));
    expect(await drainBodies(a, 't-pub')).toEqual(['allowed']);
  });

  it('publish: a topic permission set while the channel is publishing applies at once (the memo is invalidated)', async () => {
    const a = await topicSink('t-late');
    const { ch, user } = await users.channelAs(ALL);
    ch.publish('amq.topic', 'x.before', Buffer.from('before'));
    ch.publish('amq.topic', 'x.before', Buffer.from('again'));
    await eventually(async () => (await a.checkQueue('t-late')).messageCount === 2, undefined, 'both published');
    broker.setTopicPermissions(user, '/', 'amq.topic', { write: '^a\\.', read: '.*' });
    ch.publish('amq.topic', 'a.after', Buffer.from('allowed'));
    await expectRefused(ch, () => ch.publish('amq.topic', 'x.before', Buffer.from('refused')), topicText('write', 'x.before', 'amq.topic', user));
    expect(await drainBodies(a, 't-late')).toEqual(['before', 'again', 'allowed']);
  });

  it('publish: every CC and BCC key is checked too', async () => {
    const a = await topicSink('t-cc');
    const cc = await users.channelAs(ALL);
    broker.setTopicPermissions(cc.user, '/', 'amq.topic', { write: '^a\\.', read: '.*' });
    cc.ch.publish('amq.topic', 'a.1', Buffer.from('ok'), { CC: ['a.2'] });
    await expectRefused(cc.ch, () => cc.ch.publish('amq.topic', 'a.3', Buffer.from('no'), { CC: ['a.4', 'b.cc'] }), topicText('write', 'b.cc', 'amq.topic', cc.user));
    const bcc = await users.channelAs(ALL);
    broker.setTopicPermissions(bcc.user, '/', 'amq.topic', { write: '^a\\.', read: '.*' });
    await expectRefused(bcc.ch, () => bcc.ch.publish('amq.topic', 'a.5', Buffer.from('no'), { BCC: ['b.bcc'] }), topicText('write', 'b.bcc', 'amq.topic', bcc.user));
    expect(await drainBodies(a, 't-cc')).toEqual(['ok']); // one copy: the queue is reached once
  });

  it('no topic permission for the exchange: every key is allowed', async () => {
    const a = await topicSink('t-none');
    const { ch, user } = await users.channelAs(ALL);
    broker.setTopicPermissions(user, '/', 'other.topic', { write: '^$', read: '^$' });
    ch.publish('amq.topic', 'any.key', Buffer.from('free'));
    await sync(ch); // published on another connection than the one that drains
    expect(await drainBodies(a, 't-none')).toEqual(['free']);
  });

  it('only topic exchanges are checked', async () => {
    const a = await admin.channel();
    await a.assertExchange('d-topicperm', 'direct');
    await a.assertQueue('t-direct');
    await a.bindQueue('t-direct', 'd-topicperm', 'x.y');
    const { ch, user } = await users.channelAs(ALL);
    broker.setTopicPermissions(user, '/', 'd-topicperm', { write: '^$', read: '^$' });
    ch.publish('d-topicperm', 'x.y', Buffer.from('direct ok'));
    await ch.bindQueue('t-direct', 'd-topicperm', 'z');
    expect(await drainBodies(a, 't-direct')).toEqual(['direct ok']);
  });

  it('queue.bind: the binding key must match the read pattern', async () => {
    const a = await admin.channel();
    await a.assertQueue('t-bind');
    const { ch, user } = await users.channelAs(ALL);
    broker.setTopicPermissions(user, '/', 'amq.topic', { write: '.*', read: '^mine\\.' });
    await ch.bindQueue('t-bind', 'amq.topic', 'mine.#');
    await expectRefused(ch, () => ch.bindQueue('t-bind', 'amq.topic', 'theirs.#'), topicText('read', 'theirs.#', 'amq.topic', user));
  });

  it('exchange.bind: the binding key must match the read pattern of the source', async () => {
    const a = await admin.channel();
    await a.assertExchange('t-dst', 'fanout');
    const { ch, user } = await users.channelAs(ALL);
    broker.setTopicPermissions(user, '/', 'amq.topic', { write: '.*', read: '^mine\\.' });
    await ch.bindExchange('t-dst', 'amq.topic', 'mine.*');
    await expectRefused(ch, () => ch.bindExchange('t-dst', 'amq.topic', 'other.*'), topicText('read', 'other.*', 'amq.topic', user));
  });

  it('{username} expands, regex-escaped', async () => {
    const a = await topicSink('t-user');
    const { ch, user } = await users.channelAs(ALL, { name: 'b.b' });
    expect(user).toBe('b.b');
    broker.setTopicPermissions(user, '/', 'amq.topic', { write: '^{username}\\.', read: '.*' });
    ch.publish('amq.topic', 'b.b.x', Buffer.from('own subtree'));
    // "." in the user name is literal: "bxb.x" would match an unescaped ^b.b\.
    await expectRefused(ch, () => ch.publish('amq.topic', 'bxb.x', Buffer.from('no')), topicText('write', 'bxb.x', 'amq.topic', user));
    expect(await drainBodies(a, 't-user')).toEqual(['own subtree']);
  });

  it('{vhost} expands, regex-escaped', async () => {
    broker.setPermissions('guest', 'tenant.a', ALL);
    const conn = await users.connect('guest', 'tenant.a', 'guest');
    const ach = await conn.createChannel();
    await ach.assertQueue('t-vhost');
    await ach.bindQueue('t-vhost', 'amq.topic', '#');
    const { ch, user } = await users.channelAs(ALL, { vhost: 'tenant.a' });
    broker.setTopicPermissions(user, 'tenant.a', 'amq.topic', { write: '^{vhost}$', read: '.*' });
    ch.publish('amq.topic', 'tenant.a', Buffer.from('vhost key'));
    await expectRefused(ch, () => ch.publish('amq.topic', 'tenantXa', Buffer.from('no')), topicText('write', 'tenantXa', 'amq.topic', user, 'tenant.a'));
    expect(await drainBodies(ach, 't-vhost')).toEqual(['vhost key']);
  });
});

describe('connection.update-secret', () => {
  it('re-checks consumers for read and cancels those refused', async () => {
    const a = await admin.channel();
    await a.assertQueue('us-keep');
    await a.assertQueue('us-lose');
    const { ch, conn, user } = await users.channelAs(ALL);
    const keep = await consume(ch, 'us-keep', { noAck: true });
    const lose = await consume(ch, 'us-lose', { noAck: true });
    broker.setPermissions(user, '/', { configure: '.*', write: '.*', read: '^us-keep$' });
    await conn.updateSecret(Buffer.from('pw'), 'rotation');
    await lose.waitCancelled();
    expect(keep.cancelled).toBe(false);
    a.sendToQueue('us-keep', Buffer.from('still consumed'));
    expect((await keep.waitFor(1)).map((m) => m.content.toString())).toEqual(['still consumed']);
    expect((await a.checkQueue('us-lose')).consumerCount).toBe(0);
  });
});
