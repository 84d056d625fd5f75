/** Vhosts and users deleted at run time close their connections with 320, as RabbitMQ does; nothing else is disturbed. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker } from '../helpers/broker.js';
import { ALL, Users } from '../helpers/access.js';
import { closeEvent, roundTrip } from '../helpers/amqp-checks.js';
import { RawClient } from '../helpers/raw-client.js';
import { MethodId } from '../../src/protocol/index.js';

let broker: Broker;
const users = new Users(() => broker);

beforeAll(async () => {
  broker = await startBroker();
});
afterEach(async () => {
  await users.closeAll();
});
afterAll(async () => {
  await broker.stop();
});

describe('deleting a vhost', () => {
  it('closes its connections with 320, deletes its queues and exchanges, and leaves other vhosts alone', async () => {
    broker.createVhost('doomed');
    broker.setPermissions('guest', 'doomed', ALL);
    const inDoomed = await users.connect('guest', 'doomed', 'guest');
    const ch = await inDoomed.createChannel();
    await ch.assertQueue('q-doomed');
    await ch.assertExchange('x-doomed', 'fanout');
    ch.sendToQueue('q-doomed', Buffer.from('lost with the vhost'));
    const elsewhere = await users.connect('guest', undefined, 'guest');
    const closed = closeEvent(inDoomed);

    expect(await broker.deleteVhost('doomed')).toBe(true);
    const err = await closed;
    expect(err?.message).toContain('320');
    expect(err?.message).toContain(`with message "CONNECTION_FORCED - vhost 'doomed' is deleted"`);
    expect(broker.listVhosts().map((v) => v.name)).toEqual(['/']);
    expect(() => broker.queues('doomed')).toThrow();
    expect(broker.exportDefinitions().permissions).toEqual([{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }]);
    expect(await roundTrip(elsewhere)).toMatch(/^ping-/);

    // The vhost is gone for new connections too (530, as for any unknown vhost).
    const raw = await RawClient.connect(broker.port);
    await raw.handshake({ until: 'tune-ok' });
    raw.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: 'doomed' } });
    expect(await raw.expectConnectionClose()).toEqual({ replyCode: 530, replyText: 'NOT_ALLOWED - vhost doomed not found', classId: 10, methodId: 40 });
    expect(await broker.deleteVhost('doomed')).toBe(false);
  });

  it('a vhost created again starts empty', async () => {
    broker.createVhost('again');
    broker.setPermissions('guest', 'again', ALL);
    const c1 = await users.connect('guest', 'again', 'guest');
    await (await c1.createChannel()).assertQueue('left-over');
    await broker.deleteVhost('again');
    broker.createVhost('again');
    expect(broker.queues('again')).toEqual([]);
    await expect(connect(broker, { vhost: 'again' })).rejects.toThrow(); // permissions went with the vhost
  });
});

describe('deleting a user', () => {
  it('closes that user\'s connections with 320 and refuses its logins; other users are not disturbed', async () => {
    const { conn } = await users.channelAs(ALL, { name: 'leaving' });
    const second = await users.connect('leaving');
    const staying = await users.channelAs(ALL, { name: 'staying' });
    const closed = [closeEvent(conn), closeEvent(second)];
    expect(await broker.deleteUser('leaving')).toBe(true);
    for (const err of await Promise.all(closed)) {
      expect(err?.message).toContain(`with message "CONNECTION_FORCED - user 'leaving' is deleted"`);
    }
    await expect(connect(broker, { user: 'leaving', password: 'pw' })).rejects.toThrow();
    expect(await roundTrip(staying.conn)).toMatch(/^ping-/);
    expect(broker.listUsers().map((u) => u.name).sort()).toEqual(['guest', 'staying']);
  });
});
