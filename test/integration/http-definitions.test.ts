import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A definitions document as RabbitMQ 3.13 exports it (hand-written). */
const RABBIT_EXPORT = {
  rabbit_version: '3.13.7',
  rabbitmq_version: '3.13.7',
  product_name: 'RabbitMQ',
  product_version: '3.13.7',
  users: [{ name: 'svc', password_hash: 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['management'], limits: {} }],
  vhosts: [{ name: 'shop', description: 'orders', tags: [], metadata: { description: 'orders', tags: [] } }],
  permissions: [{ user: 'svc', vhost: 'shop', configure: '.*', write: '.*', read: '.*' }],
  topic_permissions: [],
  parameters: [],
  global_parameters: [],
  policies: [],
  queues: [{ name: 'orders', vhost: 'shop', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic', 'x-max-length': 1000 } }],
  exchanges: [{ name: 'shop.events', vhost: 'shop', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }],
  bindings: [{ source: 'shop.events', vhost: 'shop', destination: 'orders', destination_type: 'queue', routing_key: 'order.#', arguments: {} }],
};

describe('management HTTP API: definitions', () => {
  let broker: Broker;
  let second: Broker;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 } });
    second = await startBroker({ management: { port: 0 } });
  });
  afterAll(async () => {
    await broker.stop();
    await second.stop();
  });

  it('POST imports a RabbitMQ export (204); its objects appear through the API', async () => {
    const r = await api(broker, '/api/definitions', { method: 'POST', body: RABBIT_EXPORT });
    expect(r.status).toBe(204);
    expect((await get<Json>(broker, '/api/queues/shop/orders')).arguments).toEqual({ 'x-queue-type': 'classic', 'x-max-length': 1000 });
    expect((await get<Json>(broker, '/api/exchanges/shop/shop.events')).type).toBe('topic');
    expect((await get<Json[]>(broker, '/api/bindings/shop/e/shop.events/q/orders'))[0]!.routing_key).toBe('order.#');
    expect((await get<Json>(broker, '/api/users/svc')).tags).toEqual(['management']);
  });

  it('export → import into another broker → export gives the same definitions', async () => {
    const exported = await get<Json>(broker, '/api/definitions');
    expect(exported.queues).toEqual(RABBIT_EXPORT.queues);
    expect(exported.exchanges).toEqual(RABBIT_EXPORT.exchanges);
    expect(exported.bindings).toEqual(RABBIT_EXPORT.bindings);
    expect((await api(second, '/api/definitions', { method: 'POST', body: exported })).status).toBe(204);
    const again = await get<Json>(second, '/api/definitions');
    for (const k of ['users', 'vhosts', 'permissions', 'topic_permissions', 'queues', 'exchanges', 'bindings', 'policies', 'parameters']) expect(again[k], k).toEqual(exported[k]);
  });

  it('per vhost: items without a vhost field, imported into the vhost of the path', async () => {
    const shop = await get<Json>(broker, '/api/definitions/shop');
    expect(shop.queues).toEqual([{ name: 'orders', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic', 'x-max-length': 1000 } }]);
    expect(shop.users).toBeUndefined();
    await api(broker, '/api/vhosts/copy', { method: 'PUT', body: {} });
    expect((await api(broker, '/api/definitions/copy', { method: 'POST', body: shop })).status).toBe(204);
    expect((await get<Json[]>(broker, '/api/bindings/copy/e/shop.events/q/orders'))).toHaveLength(1);
    expect((await api(broker, '/api/definitions/nope')).status).toBe(404);
  });

  it('a bad document is a 400 naming the problem, and changes nothing', async () => {
    const before = await get<Json>(broker, '/api/definitions');
    const bad = { ...RABBIT_EXPORT, queues: [{ name: 'q2', vhost: 'shop', durable: 'yes' }], exchanges: [{ name: 'x2', vhost: 'shop', type: 'direct' }] };
    const r = await api(broker, '/api/definitions', { method: 'POST', body: bad });
    expect(r.status).toBe(400);
    expect((r.body as Json).error).toBe('bad_request');
    expect(typeof (r.body as Json).reason).toBe('string');
    expect(await get<Json>(broker, '/api/definitions')).toEqual(before);
    expect((await api(broker, '/api/definitions', { user: 'svc', password: 'x' })).status).toBe(401);
  });
});
