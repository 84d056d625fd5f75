import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { api } from '../helpers/http.js';

/** The management API's server: ports, JSON, authentication, RabbitMQ's error bodies. */
describe('management HTTP API: server and authentication', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 }, vhosts: ['/', 'other'] });
    const all = { configure: '.*', write: '.*', read: '.*' };
    broker.addUser('mon', 'pw', ['monitoring']);
    broker.addUser('mgmt', 'pw', ['management']);
    broker.setPermissions('mgmt', '/', all);
    broker.addUser('plain', 'pw', []);
    broker.setPermissions('plain', '/', all);
  });
  afterAll(() => broker.stop());

  it('listens on a free port when asked for port 0, and an embedded broker serves no API unless asked', async () => {
    expect(broker.managementHttpPort).toBeGreaterThan(0);
    const plain = await startBroker();
    try {
      expect(plain.managementHttpPort).toBe(0);
    } finally {
      await plain.stop();
    }
  });

  it('answers 401 with WWW-Authenticate when no credentials are sent', async () => {
    const r = await api(broker, '/api/overview', { auth: false });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="RabbitMQ Management"');
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.body).toEqual({ error: 'not_authorized', reason: 'Not_Authorized' });
  });

  it('answers 401 not_authorized for a wrong password or an unknown user', async () => {
    for (const [user, password] of [['guest', 'wrong'], ['nobody', 'x']] as const) {
      const r = await api(broker, '/api/overview', { user, password });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: 'not_authorized', reason: 'Not_Authorized' });
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="RabbitMQ Management"');
    }
  });

  it('refuses users without a management tag, and non-administrators on admin routes, with RabbitMQ\'s texts', async () => {
    const r = await api(broker, '/api/overview', { user: 'plain', password: 'pw' });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'not_authorised', reason: 'Not management user' });
    const users = await api(broker, '/api/users', { user: 'mon', password: 'pw' });
    expect(users.status).toBe(401);
    expect(users.body).toEqual({ error: 'not_authorised', reason: 'Not administrator user' });
    const nodes = await api(broker, '/api/nodes', { user: 'mgmt', password: 'pw' });
    expect(nodes.status).toBe(401);
    expect(nodes.body).toEqual({ error: 'not_authorised', reason: 'Not monitor user' });
  });

  it('a management user: 401 for a vhost it may not use, 404 for a vhost that does not exist; lists leave the vhost out', async () => {
    const denied = await api(broker, '/api/queues/other', { user: 'mgmt', password: 'pw' });
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ error: 'not_authorised', reason: 'User not authorised to access virtual host' });
    const missing = await api(broker, '/api/queues/nope', { user: 'mgmt', password: 'pw' });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    const vhosts = await api(broker, '/api/vhosts', { user: 'mgmt', password: 'pw' });
    expect((vhosts.body as { name: string }[]).map((v) => v.name)).toEqual(['/']);
    // A monitor sees every vhost, and every vhost's objects in lists, but single objects only where it has permissions.
    const all = await api(broker, '/api/vhosts', { user: 'mon', password: 'pw' });
    expect((all.body as { name: string }[]).map((v) => v.name)).toEqual(['/', 'other']);
    expect((await api(broker, '/api/exchanges/other', { user: 'mon', password: 'pw' })).status).toBe(200);
    const one = await api(broker, '/api/exchanges/other/amq.direct', { user: 'mon', password: 'pw' });
    expect(one.status).toBe(401);
    expect(one.body).toEqual({ error: 'not_authorised', reason: 'User not authorised to access virtual host' });
  });

  it('connections: a management user sees and closes only its own, a monitor sees all but closes only its own', async () => {
    const amqp = (await import('amqplib')).default;
    const own = await amqp.connect(`amqp://mgmt:pw@127.0.0.1:${broker.port}`);
    const guests = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`);
    try {
      const mine = await api(broker, '/api/connections', { user: 'mgmt', password: 'pw' });
      expect((mine.body as { user: string }[]).map((c) => c.user)).toEqual(['mgmt']);
      const all = await api(broker, '/api/connections', { user: 'mon', password: 'pw' });
      expect((all.body as { user: string }[]).map((c) => c.user).sort()).toEqual(['guest', 'mgmt']);
      const guestConn = (all.body as { user: string; name: string }[]).find((c) => c.user === 'guest')!;
      const path = `/api/connections/${encodeURIComponent(guestConn.name)}`;
      const read = await api(broker, path, { user: 'mgmt', password: 'pw' });
      expect(read.status).toBe(401);
      expect(read.body).toEqual({ error: 'not_authorised', reason: 'User not authorised to access object' });
      const close = await api(broker, path, { method: 'DELETE', user: 'mon', password: 'pw' });
      expect(close.status).toBe(401);
      expect((await api(broker, path, { user: 'mon', password: 'pw' })).status).toBe(200);
    } finally {
      await own.close();
      await guests.close();
    }
  });

  it('whoami names the user and its tags', async () => {
    const r = await api(broker, '/api/whoami', { user: 'mon', password: 'pw' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ name: 'mon', tags: ['monitoring'] });
    // --user / default users without tags are administrators.
    expect((await api(broker, '/api/whoami')).body).toEqual({ name: 'guest', tags: ['administrator'] });
  });

  it('unknown paths are 404 and known paths with another method 405, as JSON', async () => {
    const r = await api(broker, '/api/nothing-here');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    const m = await api(broker, '/api/overview', { method: 'DELETE' });
    expect(m.status).toBe(405);
    expect(m.body).toMatchObject({ error: expect.any(String), reason: expect.any(String) });
  });

  it('overview: RabbitMQ\'s fields and types', async () => {
    const r = await api(broker, '/api/overview');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const o = r.body as Record<string, unknown>;
    expect(o.product_name).toBe('Warren');
    expect(o.product_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(o.rabbitmq_version).toMatch(/^3\.13\.\d+$/);
    expect(o.management_version).toBe(o.rabbitmq_version);
    expect(typeof o.cluster_name).toBe('string');
    expect(o.node).toMatch(/^warren@/);
    expect(o.object_totals).toEqual({ channels: 0, connections: 0, consumers: 0, exchanges: 12, queues: 0 });
    expect(o.queue_totals).toMatchObject({ messages: 0, messages_ready: 0, messages_unacknowledged: 0, messages_details: { rate: 0 } });
    expect(o.listeners).toEqual(expect.arrayContaining([
      expect.objectContaining({ protocol: 'amqp', port: broker.port, node: o.node }),
      expect.objectContaining({ protocol: 'http', port: broker.managementHttpPort }),
    ]));
  });
});
