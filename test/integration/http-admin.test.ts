import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Vhosts, users, permissions and connections through the management API. */
describe('management HTTP API: administration', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 } });
  });
  afterAll(() => broker.stop());

  it('vhosts: PUT 201 then 204, listed with their fields, DELETE 204 then 404', async () => {
    expect((await api(broker, '/api/vhosts/staging', { method: 'PUT', body: { description: 'pre-prod', tags: 'a,b' } })).status).toBe(201);
    expect((await api(broker, '/api/vhosts/staging', { method: 'PUT', body: {} })).status).toBe(204);
    const v = await get<Json>(broker, '/api/vhosts/staging');
    expect(v).toMatchObject({ name: 'staging', description: 'pre-prod', tags: ['a', 'b'], messages: 0, messages_ready: 0, messages_unacknowledged: 0, tracing: false });
    expect((await get<Json[]>(broker, '/api/vhosts')).map((x) => x.name)).toEqual(['/', 'staging']);
    expect((await api(broker, '/api/vhosts/staging', { method: 'DELETE' })).status).toBe(204);
    expect((await api(broker, '/api/vhosts/staging', { method: 'DELETE' })).status).toBe(404);
    expect((await api(broker, '/api/vhosts/staging')).body).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
  });

  it('users: PUT with a password or a RabbitMQ hash, tags as a string or a list; the new user can log in over HTTP and AMQP', async () => {
    expect((await api(broker, '/api/users/alice', { method: 'PUT', body: { password: 's3cret', tags: 'monitoring,management' } })).status).toBe(201);
    const u = await get<Json>(broker, '/api/users/alice');
    expect(u).toMatchObject({ name: 'alice', tags: ['monitoring', 'management'], hashing_algorithm: 'rabbit_password_hashing_sha256' });
    expect(u.password_hash).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect((await api(broker, '/api/whoami', { user: 'alice', password: 's3cret' })).body).toEqual({ name: 'alice', tags: ['monitoring', 'management'] });

    // The same hash under another name logs in with the same password.
    expect((await api(broker, '/api/users/bob', { method: 'PUT', body: { password_hash: u.password_hash, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'] } })).status).toBe(201);
    expect((await api(broker, '/api/whoami', { user: 'bob', password: 's3cret' })).status).toBe(200);
    expect((await api(broker, '/api/users/bob', { method: 'PUT', body: { password_hash: 'not a hash!' } })).status).toBe(400);
    expect((await api(broker, '/api/users/bob', { method: 'PUT', body: { tags: 'management' } })).status).toBe(204);
    expect((await get<Json>(broker, '/api/users/bob')).tags).toEqual(['management']);

    expect((await api(broker, '/api/permissions/%2F/alice', { method: 'PUT', body: { configure: '', write: '.*', read: '.*' } })).status).toBe(201);
    expect((await get<Json>(broker, '/api/permissions/%2F/alice'))).toEqual({ user: 'alice', vhost: '/', configure: '', write: '.*', read: '.*' });
    const conn = await amqp.connect(`amqp://alice:s3cret@127.0.0.1:${broker.port}`);
    await conn.close();
    expect((await api(broker, '/api/permissions/%2F/alice', { method: 'PUT', body: { configure: '(', write: '', read: '' } })).status).toBe(400);
    expect((await api(broker, '/api/permissions/%2F/nobody', { method: 'PUT', body: { configure: '', write: '', read: '' } })).status).toBe(404);
    expect((await api(broker, '/api/permissions/nope/alice', { method: 'PUT', body: { configure: '', write: '', read: '' } })).status).toBe(404);
    expect((await get<Json[]>(broker, '/api/users/alice/permissions'))).toHaveLength(1);

    expect((await api(broker, '/api/topic-permissions/%2F/alice', { method: 'PUT', body: { exchange: 'amq.topic', write: '^a', read: '.*' } })).status).toBe(201);
    expect(await get<Json[]>(broker, '/api/topic-permissions/%2F/alice')).toEqual([{ user: 'alice', vhost: '/', exchange: 'amq.topic', write: '^a', read: '.*' }]);
    expect((await api(broker, '/api/topic-permissions/%2F/alice', { method: 'DELETE' })).status).toBe(204);

    expect((await api(broker, '/api/permissions/%2F/alice', { method: 'DELETE' })).status).toBe(204);
    expect((await api(broker, '/api/permissions/%2F/alice')).status).toBe(404);
    // A monitoring user may read but not change.
    const refused = await api(broker, '/api/users/carol', { method: 'PUT', body: { password: 'x' }, user: 'alice', password: 's3cret' });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'not_authorised', reason: 'Not administrator user' });
    expect((await api(broker, '/api/users/alice', { method: 'DELETE' })).status).toBe(204);
    expect((await api(broker, '/api/users/alice', { method: 'DELETE' })).status).toBe(404);
    expect((await api(broker, '/api/whoami', { user: 'alice', password: 's3cret' })).status).toBe(401);
  });

  it('object writes are checked against the user\'s permissions, as on an AMQP channel', async () => {
    broker.addUser('limited', 'pw', ['management']);
    broker.setPermissions('limited', '/', { configure: '^own-', write: '^own-', read: '^own-' });
    const as = { user: 'limited', password: 'pw' };
    expect((await api(broker, '/api/queues/%2F/own-q', { method: 'PUT', body: {}, ...as })).status).toBe(201);
    const refused = await api(broker, '/api/queues/%2F/other-q', { method: 'PUT', body: {}, ...as });
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'not_authorised', reason: "ACCESS_REFUSED - configure access to queue 'other-q' in vhost '/' refused for user 'limited'" });
    expect((await api(broker, '/api/queues/%2F/other-q')).status).toBe(404);
    const publish = await api(broker, '/api/exchanges/%2F/amq.default/publish', { method: 'POST', body: { routing_key: 'own-q', payload: 'x', payload_encoding: 'string', properties: {} }, ...as });
    expect(publish.status).toBe(401);
    expect((publish.body as Json).reason).toBe("ACCESS_REFUSED - write access to exchange 'amq.default' in vhost '/' refused for user 'limited'");
    const bind = await api(broker, '/api/bindings/%2F/e/amq.direct/q/own-q', { method: 'POST', body: { routing_key: 'k' }, ...as });
    expect((bind.body as Json).reason).toBe("ACCESS_REFUSED - read access to exchange 'amq.direct' in vhost '/' refused for user 'limited'");
    expect((await api(broker, '/api/queues/%2F/own-q/get', { method: 'POST', body: { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' }, ...as })).status).toBe(200);
    expect((await api(broker, '/api/queues/%2F/own-q', { method: 'DELETE', ...as })).status).toBe(204);
  });

  it('DELETE /api/connections/{name} closes the connection with 320 and the X-Reason text', async () => {
    const conn = await connect(broker);
    // amqplib reports a 320 as a 'close' event carrying the error (not as 'error').
    const closed = new Promise<Error & { code?: number }>((resolve) => conn.once('close', (err: Error & { code?: number }) => resolve(err)));
    const list = await get<Json[]>(broker, '/api/connections');
    expect(list).toHaveLength(1);
    const r = await api(broker, `/api/connections/${encodeURIComponent(list[0]!.name)}`, { method: 'DELETE', headers: { 'X-Reason': 'maintenance window' } });
    expect(r.status).toBe(204);
    const err = await closed;
    expect(err.code).toBe(320);
    expect(err.message).toContain('CONNECTION_FORCED - maintenance window');
    await eventually(async () => (await get<Json[]>(broker, '/api/connections')).length === 0, WAIT_MS, 'connection gone');
    expect((await api(broker, `/api/connections/${encodeURIComponent(list[0]!.name)}`)).status).toBe(404);
  });
});
