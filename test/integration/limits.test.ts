import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { closedWith, connect, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';
import { RawClient, type CloseArgs } from '../helpers/raw-client.js';
import { MethodId } from '../../src/protocol/index.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Vhost limits (max-connections, max-queues) and user limits (max-connections, max-channels), RabbitMQ's codes and texts. */
describe('vhost and user limits', () => {
  let broker: Broker;
  const open: AmqpConnection[] = [];
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 }, vhosts: ['/', 'lim'] });
    broker.setPermissions('guest', 'lim', { configure: '.*', write: '.*', read: '.*' });
    broker.addUser('alice', 'pw', []);
    broker.setPermissions('alice', '/', { configure: '.*', write: '.*', read: '.*' });
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((c) => c.close()));
    await broker.stop();
  });

  /** connection.open as a raw client (amqplib does not show the close's text during the handshake). */
  const openRefusal = async (vhost: string, user = 'guest', password = 'guest'): Promise<CloseArgs> => {
    await expect(connect(broker, { vhost, user, password })).rejects.toThrow('Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
    const c = await RawClient.connect(broker.port);
    await c.handshake({ user, password, until: 'tune-ok' });
    c.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: vhost } });
    return c.expectConnectionClose();
  };

  const keep = async (c: Promise<AmqpConnection>): Promise<AmqpConnection> => {
    const conn = await c;
    open.push(conn);
    return conn;
  };

  it('vhost max-connections: 530 at connection.open with RabbitMQ\'s text; clearing it lets clients in again', async () => {
    expect((await api(broker, '/api/vhost-limits/lim/max-connections', { method: 'PUT', body: { value: 1 } })).status).toBe(204);
    expect(await get<Json[]>(broker, '/api/vhost-limits/lim')).toEqual([{ vhost: 'lim', value: { 'max-connections': 1 } }]);
    const first = await keep(connect(broker, { vhost: 'lim' }));
    expect(await openRefusal('lim')).toEqual({ replyCode: 530, replyText: "NOT_ALLOWED - access to vhost 'lim' refused for user 'guest': connection limit (1) is reached", classId: 10, methodId: 40 });
    // Other vhosts are not affected.
    await keep(connect(broker));
    expect((await api(broker, '/api/vhost-limits/lim/max-connections', { method: 'DELETE' })).status).toBe(204);
    expect((await api(broker, '/api/vhost-limits/lim/max-connections', { method: 'DELETE' })).status).toBe(404);
    await keep(connect(broker, { vhost: 'lim' }));
    await first.close();
    open.splice(open.indexOf(first), 1);
  });

  it('vhost max-connections 0 refuses every connection; a negative value means no limit', async () => {
    await api(broker, '/api/vhost-limits/lim/max-connections', { method: 'PUT', body: { value: 0 } });
    expect((await openRefusal('lim')).replyText).toBe("NOT_ALLOWED - access to vhost 'lim' refused for user 'guest': connection limit (0) is reached");
    await api(broker, '/api/vhost-limits/lim/max-connections', { method: 'PUT', body: { value: -1 } });
    await keep(connect(broker, { vhost: 'lim' }));
    await api(broker, '/api/vhost-limits/lim/max-connections', { method: 'DELETE' });
  });

  it('vhost max-queues: 406 at queue.declare of a new queue; redeclaring an existing one is fine', async () => {
    const conn = await keep(connect(broker, { vhost: 'lim' }));
    const ch = await conn.createChannel();
    await ch.assertQueue('q1');
    expect((await api(broker, '/api/vhost-limits/lim/max-queues', { method: 'PUT', body: { value: 2 } })).status).toBe(204);
    await ch.assertQueue('q2');
    await ch.assertQueue('q1');
    const closed = closedWith(ch);
    await expect(ch.assertQueue('q3')).rejects.toThrow();
    const err = await closed;
    expect(err.code).toBe(406);
    expect(err.message).toContain("PRECONDITION_FAILED - cannot declare queue 'q3': queue limit in vhost 'lim' (2) is reached");
    // The HTTP API refuses the same way.
    const http = await api(broker, '/api/queues/lim/q3', { method: 'PUT', body: {} });
    expect(http.status).toBe(400);
    expect((http.body as Json).reason).toBe("406 PRECONDITION_FAILED - cannot declare queue 'q3': queue limit in vhost 'lim' (2) is reached");
    const ch2 = await conn.createChannel();
    await ch2.deleteQueue('q2');
    await ch2.assertQueue('q3');
    await api(broker, '/api/vhost-limits/lim/max-queues', { method: 'DELETE' });
    await ch2.assertQueue('q4');
    for (const q of ['q1', 'q3', 'q4']) await ch2.deleteQueue(q);
  });

  it('user max-connections: 530 with RabbitMQ\'s text, counted over every vhost', async () => {
    expect((await api(broker, '/api/user-limits/alice/max-connections', { method: 'PUT', body: { value: 1 } })).status).toBe(204);
    await keep(connect(broker, { user: 'alice', password: 'pw' }));
    expect(await openRefusal('/', 'alice', 'pw')).toEqual({ replyCode: 530, replyText: "NOT_ALLOWED - connection refused for user 'alice': user connection limit (1) is reached", classId: 10, methodId: 40 });
    await keep(connect(broker)); // guest has no limit
    expect((await api(broker, '/api/users/alice')).body).toMatchObject({ limits: { 'max-connections': 1 } });
    expect((await api(broker, '/api/user-limits/alice/max-connections', { method: 'DELETE' })).status).toBe(204);
    await keep(connect(broker, { user: 'alice', password: 'pw' }));
  });

  it('user max-channels: the channel beyond the limit closes the connection with 530 and RabbitMQ\'s text', async () => {
    expect((await api(broker, '/api/user-limits/alice/max-channels', { method: 'PUT', body: { value: 2 } })).status).toBe(204);
    expect(await get<Json[]>(broker, '/api/user-limits')).toEqual([{ user: 'alice', value: { 'max-channels': 2 } }]);
    const a = await keep(connect(broker, { user: 'alice', password: 'pw' }));
    const b = await keep(connect(broker, { user: 'alice', password: 'pw' }));
    await a.createChannel();
    const kept = await b.createChannel();
    const closed = closedWith(b);
    await expect(b.createChannel()).rejects.toThrow();
    const err = await closed;
    expect(err.code).toBe(530);
    expect(err.message).toContain("NOT_ALLOWED - number of channels opened for user 'alice' has reached the maximum allowed user limit of (2)");
    void kept;
    // Closing a channel frees its place.
    const c = await keep(connect(broker, { user: 'alice', password: 'pw' }));
    await c.createChannel();
    await api(broker, '/api/user-limits/alice/max-channels', { method: 'DELETE' });
  });

  it('bad limits: 400; unknown vhost or user: 404; only administrators change limits', async () => {
    expect((await api(broker, '/api/vhost-limits/lim/max-bananas', { method: 'PUT', body: { value: 1 } })).status).toBe(400);
    expect((await api(broker, '/api/vhost-limits/lim/max-queues', { method: 'PUT', body: { value: 'many' } })).status).toBe(400);
    expect((await api(broker, '/api/user-limits/alice/max-queues', { method: 'PUT', body: { value: 1 } })).status).toBe(400);
    expect((await api(broker, '/api/vhost-limits/nope/max-queues', { method: 'PUT', body: { value: 1 } })).status).toBe(404);
    expect((await api(broker, '/api/user-limits/nobody/max-channels', { method: 'PUT', body: { value: 1 } })).status).toBe(404);
    broker.addUser('mon', 'pw', ['monitoring']);
    expect((await api(broker, '/api/vhost-limits/lim/max-queues', { method: 'PUT', body: { value: 1 }, user: 'mon', password: 'pw' })).status).toBe(401);
    expect(await get<Json[]>(broker, '/api/vhost-limits')).toEqual([]);
  });
});
