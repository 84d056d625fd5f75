/**
 * Permissions as RabbitMQ 3.13 checks them (rabbit_channel + rabbit_access_control):
 * one test per row of the permission table, each asserting 403 and the exact text.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { ALL, Users, expectRefused } from '../helpers/access.js';
import { Clients, consume, drainBodies, expectChannelError, rawPublish } from '../helpers/model.js';

let broker: Broker;
const users = new Users(() => broker);
const admin = new Clients(() => broker);

beforeAll(async () => {
  broker = await startBroker();
});
afterEach(async () => {
  await users.closeAll();
  await admin.closeAll();
});
afterAll(async () => {
  await broker.stop();
});

const text = (permission: string, kind: string, name: string, user: string): string =>
  `ACCESS_REFUSED - ${permission} access to ${kind} '${name}' in vhost '/' refused for user '${user}'`;

describe('the permission table', () => {
  it('exchange.declare needs configure on the exchange', async () => {
    const { ch, user } = await users.channelAs({ configure: '^ok-', write: '.*', read: '.*' });
    await ch.assertExchange('ok-x1', 'direct');
    await expectRefused(ch, () => ch.assertExchange('x1', 'direct'), text('configure', 'exchange', 'x1', user));
  });

  it('exchange.delete needs configure on the exchange', async () => {
    const a = await admin.channel();
    await a.assertExchange('x-del', 'fanout');
    const { ch, user } = await users.channelAs({ configure: '^$', write: '.*', read: '.*' });
    await expectRefused(ch, () => ch.deleteExchange('x-del'), text('configure', 'exchange', 'x-del', user));
    await a.checkExchange('x-del'); // still there
  });

  it('exchange.declare creating an exchange with an alternate-exchange needs read on it and write on the AE', async () => {
    const read = await users.channelAs({ configure: '.*', write: '.*', read: '^$' });
    await expectRefused(read.ch, () => read.ch.assertExchange('x-ae1', 'direct', { alternateExchange: 'ae1' }), text('read', 'exchange', 'x-ae1', read.user));
    const write = await users.channelAs({ configure: '.*', write: '^x-', read: '.*' });
    await expectRefused(write.ch, () => write.ch.assertExchange('x-ae2', 'direct', { alternateExchange: 'ae2' }), text('write', 'exchange', 'ae2', write.user));
    // Neither is checked when the exchange already exists (nothing is created).
    const a = await admin.channel();
    await a.assertExchange('x-ae3', 'direct', { alternateExchange: 'ae3' });
    const again = await users.channelAs({ configure: '.*', write: '^$', read: '^$' });
    await again.ch.assertExchange('x-ae3', 'direct', { alternateExchange: 'ae3' });
  });

  it('queue.declare needs configure on the queue (server-named queues are checked under their generated name)', async () => {
    const { ch, user } = await users.channelAs({ configure: '^(ok-|amq\\.gen-)', write: '.*', read: '.*' });
    await ch.assertQueue('ok-q1');
    const generated = await ch.assertQueue('', { exclusive: true });
    expect(generated.queue).toMatch(/^amq\.gen-/);
    await expectRefused(ch, () => ch.assertQueue('q1'), text('configure', 'queue', 'q1', user));
    const other = await users.channelAs({ configure: '^ok-', write: '.*', read: '.*' });
    const err = await expectChannelError(other.ch, () => other.ch.assertQueue('', { exclusive: true }), 403, 'ACCESS_REFUSED - configure access to queue');
    expect(err.message).toMatch(new RegExp(`with message "ACCESS_REFUSED - configure access to queue 'amq\\.gen-[A-Za-z0-9_-]+' in vhost '/' refused for user '${other.user}'"`));
  });

  it('queue.delete needs configure on the queue', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-del');
    const { ch, user } = await users.channelAs({ configure: '^$', write: '.*', read: '.*' });
    await expectRefused(ch, () => ch.deleteQueue('q-del'), text('configure', 'queue', 'q-del', user));
    await a.checkQueue('q-del');
  });

  it('queue.declare creating a queue with a dead-letter exchange needs read on the queue and write on the DLX', async () => {
    const read = await users.channelAs({ configure: '.*', write: '.*', read: '^$' });
    await expectRefused(read.ch, () => read.ch.assertQueue('q-dlx1', { deadLetterExchange: 'dlx1' }), text('read', 'queue', 'q-dlx1', read.user));
    const write = await users.channelAs({ configure: '.*', write: '^q-', read: '.*' });
    await expectRefused(write.ch, () => write.ch.assertQueue('q-dlx2', { deadLetterExchange: 'dlx2' }), text('write', 'exchange', 'dlx2', write.user));
    // Redeclaring an existing queue checks configure only.
    const a = await admin.channel();
    await a.assertQueue('q-dlx3', { deadLetterExchange: 'dlx3' });
    const again = await users.channelAs({ configure: '.*', write: '^$', read: '^$' });
    await again.ch.assertQueue('q-dlx3', { deadLetterExchange: 'dlx3' });
  });

  it('queue.purge needs read on the queue', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-purge');
    a.sendToQueue('q-purge', Buffer.from('kept'));
    const { ch, user } = await users.channelAs({ configure: '.*', write: '.*', read: '^$' });
    await expectRefused(ch, () => ch.purgeQueue('q-purge'), text('read', 'queue', 'q-purge', user));
    expect(await drainBodies(a, 'q-purge')).toEqual(['kept']);
  });

  it('basic.get needs read on the queue', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-get');
    const { ch, user } = await users.channelAs({ configure: '.*', write: '.*', read: '^$' });
    await expectRefused(ch, () => ch.get('q-get'), text('read', 'queue', 'q-get', user));
  });

  it('basic.consume needs read on the queue', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-consume');
    const { ch, user } = await users.channelAs({ configure: '.*', write: '.*', read: '^other$' });
    await expectRefused(ch, () => ch.consume('q-consume', () => {}), text('read', 'queue', 'q-consume', user));
  });

  it('queue.bind and queue.unbind need write on the queue and read on the exchange', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-bind');
    await a.assertExchange('x-bind', 'direct');
    await a.bindQueue('q-bind', 'x-bind', 'k');
    const w = await users.channelAs({ configure: '.*', write: '^x-', read: '.*' });
    await expectRefused(w.ch, () => w.ch.bindQueue('q-bind', 'x-bind', 'k2'), text('write', 'queue', 'q-bind', w.user));
    const r = await users.channelAs({ configure: '.*', write: '.*', read: '^q-' });
    await expectRefused(r.ch, () => r.ch.bindQueue('q-bind', 'x-bind', 'k2'), text('read', 'exchange', 'x-bind', r.user));
    const uw = await users.channelAs({ configure: '.*', write: '^x-', read: '.*' });
    await expectRefused(uw.ch, () => uw.ch.unbindQueue('q-bind', 'x-bind', 'k'), text('write', 'queue', 'q-bind', uw.user));
    const ur = await users.channelAs({ configure: '.*', write: '.*', read: '^q-' });
    await expectRefused(ur.ch, () => ur.ch.unbindQueue('q-bind', 'x-bind', 'k'), text('read', 'exchange', 'x-bind', ur.user));
    // Allowed both ways: the binding routes.
    const ok = await users.channelAs({ configure: '^$', write: '^q-bind$', read: '^x-bind$' });
    await ok.ch.bindQueue('q-bind', 'x-bind', 'k3');
    a.publish('x-bind', 'k3', Buffer.from('via k3'));
    expect(await drainBodies(a, 'q-bind')).toEqual(['via k3']);
  });

  it('exchange.bind and exchange.unbind need write on the destination and read on the source', async () => {
    const a = await admin.channel();
    await a.assertExchange('x-src', 'direct');
    await a.assertExchange('x-dst', 'fanout');
    await a.bindExchange('x-dst', 'x-src', 'k');
    const w = await users.channelAs({ configure: '.*', write: '^x-src$', read: '.*' });
    await expectRefused(w.ch, () => w.ch.bindExchange('x-dst', 'x-src', 'k2'), text('write', 'exchange', 'x-dst', w.user));
    const r = await users.channelAs({ configure: '.*', write: '.*', read: '^x-dst$' });
    await expectRefused(r.ch, () => r.ch.bindExchange('x-dst', 'x-src', 'k2'), text('read', 'exchange', 'x-src', r.user));
    const uw = await users.channelAs({ configure: '.*', write: '^x-src$', read: '.*' });
    await expectRefused(uw.ch, () => uw.ch.unbindExchange('x-dst', 'x-src', 'k'), text('write', 'exchange', 'x-dst', uw.user));
    const ur = await users.channelAs({ configure: '.*', write: '.*', read: '^x-dst$' });
    await expectRefused(ur.ch, () => ur.ch.unbindExchange('x-dst', 'x-src', 'k'), text('read', 'exchange', 'x-src', ur.user));
  });

  it('basic.publish needs write on the exchange; the default exchange is checked as amq.default', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-pub');
    await a.assertExchange('x-pub', 'fanout');
    await a.bindQueue('q-pub', 'x-pub', '');
    const named = await users.channelAs({ configure: '^$', write: '^amq\\.default$', read: '^$' });
    named.ch.sendToQueue('q-pub', Buffer.from('via default'));
    await expectRefused(named.ch, () => named.ch.publish('x-pub', '', Buffer.from('refused')), text('write', 'exchange', 'x-pub', named.user));
    const dflt = await users.channelAs({ configure: '^$', write: '^x-pub$', read: '^$' });
    dflt.ch.publish('x-pub', '', Buffer.from('via x-pub'));
    await expectRefused(dflt.ch, () => dflt.ch.sendToQueue('q-pub', Buffer.from('refused')), text('write', 'exchange', 'amq.default', dflt.user));
    expect((await drainBodies(a, 'q-pub')).sort()).toEqual(['via default', 'via x-pub']);
  });

  it('passive declares are not checked', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-passive');
    await a.assertExchange('x-passive', 'topic');
    const { ch } = await users.channelAs({ configure: '', write: '', read: '' });
    expect((await ch.checkQueue('q-passive')).queue).toBe('q-passive');
    await ch.checkExchange('x-passive');
  });

  it('"" means nothing (^$), and patterns match anywhere in the name (unanchored)', async () => {
    const { ch, user } = await users.channelAs({ configure: 'mid', write: '', read: '' });
    await ch.assertQueue('a-mid-z', { autoDelete: true });
    await expectRefused(ch, () => ch.assertQueue('m-i-d'), text('configure', 'queue', 'm-i-d', user));
  });
});

describe('vhost access and changes at run time', () => {
  it('a user without a permission record in the vhost is refused with 530', async () => {
    broker.addUser('nobody-here', 'pw');
    await expect(connect(broker, { user: 'nobody-here', password: 'pw' })).rejects.toThrow('got <ConnectionClose channel:0>');
    // The same user with any record (even all-empty patterns) gets in.
    broker.setPermissions('nobody-here', '/', { configure: '', write: '', read: '' });
    const conn = await users.connect('nobody-here');
    await (await conn.createChannel()).close();
  });

  it('a permission change applies to open channels at once (the memo is invalidated)', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-change');
    const { ch, user } = await users.channelAs({ configure: '^$', write: '.*', read: '^$' });
    ch.sendToQueue('q-change', Buffer.from('one'));
    ch.sendToQueue('q-change', Buffer.from('two'));
    await eventually(async () => (await a.checkQueue('q-change')).messageCount === 2, WAIT_MS, 'both published');
    broker.setPermissions(user, '/', { configure: '^$', write: '^$', read: '^$' });
    await expectRefused(ch, () => ch.sendToQueue('q-change', Buffer.from('three')), text('write', 'exchange', 'amq.default', user));
    expect(await drainBodies(a, 'q-change')).toEqual(['one', 'two']);
  });

  it('a password change does not close connections; the old password no longer logs in', async () => {
    const { conn, user } = await users.channelAs(ALL);
    broker.changePassword(user, 'new-pw');
    const ch = await conn.createChannel();
    await ch.assertQueue('', { exclusive: true });
    await expect(connect(broker, { user, password: 'pw' })).rejects.toThrow();
    const again = await users.connect(user, undefined, 'new-pw');
    await again.close();
  });

  it('a user without a password cannot log in with PLAIN', async () => {
    broker.addUser('no-password', null);
    broker.setPermissions('no-password', '/', ALL);
    await expect(connect(broker, { user: 'no-password', password: '' })).rejects.toThrow(/ACCESS_REFUSED|403/);
  });
});

describe('user_id', () => {
  it('a user_id other than the login user is 406 unless the user has the impersonator tag', async () => {
    const a = await admin.channel();
    await a.assertQueue('q-uid');
    const plain = await users.channelAs(ALL);
    const err = await expectChannelError(plain.ch, () => rawPublish(plain.ch, { exchange: '', routingKey: 'q-uid' }, Buffer.from('x'), { userId: 'alice' }), 406, `PRECONDITION_FAILED - user_id property set to 'alice' but authenticated user was '${plain.user}'`);
    expect(err.message).toContain(`with message "PRECONDITION_FAILED - user_id property set to 'alice' but authenticated user was '${plain.user}'"`);
    const imp = await users.channelAs(ALL, { tags: ['impersonator'] });
    const own = await users.channelAs(ALL);
    own.ch.sendToQueue('q-uid', Buffer.from('own'), { userId: own.user });
    imp.ch.sendToQueue('q-uid', Buffer.from('impersonated'), { userId: 'alice' });
    const inbox = await consume(a, 'q-uid', { noAck: true });
    await inbox.waitFor(2);
    const got = inbox.messages.map((m) => [m.content.toString(), m.properties.userId as string]).sort((x, y) => x[0]!.localeCompare(y[0]!));
    expect(got).toEqual([['impersonated', 'alice'], ['own', own.user]]);
  });
});
