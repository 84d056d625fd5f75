/**
 * Statistics do not outlive what they describe: a deleted vhost's rate
 * samples go with it (vhost churn through the API leaves no growth), a vhost
 * re-created under the same name starts with fresh rates, and a closed
 * connection's byte sample goes at the next sample. (Queue, exchange and
 * channel samples live on those objects themselves.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let broker: Broker;
beforeAll(async () => {
  broker = await startBroker({ management: { port: 0 } });
});
afterAll(() => broker.stop());

async function createVhost(name: string): Promise<void> {
  expect((await api(broker, `/api/vhosts/${encodeURIComponent(name)}`, { method: 'PUT', body: {} })).status).toBe(201);
  expect((await api(broker, `/api/permissions/${encodeURIComponent(name)}/guest`, { method: 'PUT', body: { configure: '.*', write: '.*', read: '.*' } })).status).toBe(201);
}

async function publishIn(vhost: string, count: number): Promise<void> {
  const conn = await connect(broker, { vhost });
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('q');
  for (let i = 0; i < count; i++) ch.sendToQueue('q', Buffer.from(`m${i}`));
  await ch.waitForConfirms();
  await conn.close();
}

describe('statistics samples are dropped with their objects', () => {
  it('200 vhosts created, sampled and deleted through the API leave the vhost samples as they were', async () => {
    broker.statistics.sample();
    const before = broker.statistics.sampleCounts.vhosts;
    const names = Array.from({ length: 200 }, (_, i) => `churn-${i}`);
    for (const name of names) expect((await api(broker, `/api/vhosts/${name}`, { method: 'PUT', body: {} })).status).toBe(201);
    broker.statistics.sample();
    expect(broker.statistics.sampleCounts.vhosts).toBe(before + 200);
    for (const name of names) expect((await api(broker, `/api/vhosts/${name}`, { method: 'DELETE' })).status).toBe(204);
    expect(broker.statistics.sampleCounts.vhosts).toBe(before);
    broker.statistics.sample();
    expect(broker.statistics.sampleCounts.vhosts).toBe(before);
  });

  it('a vhost re-created under a deleted one\'s name starts with fresh rates (never negative ones)', async () => {
    await createVhost('again');
    await publishIn('again', 20);
    broker.statistics.sample();
    expect((await get<Json>(broker, '/api/vhosts/again')).message_stats.publish).toBe(20);
    expect((await api(broker, '/api/vhosts/again', { method: 'DELETE' })).status).toBe(204);

    await createVhost('again');
    await publishIn('again', 5);
    broker.statistics.sample(Date.now() + 1000); // at least a second after the previous sample
    const stats = (await get<Json>(broker, '/api/vhosts/again')).message_stats;
    expect(stats.publish).toBe(5);
    expect(stats.publish_details.rate).toBeGreaterThan(0);
  });

  it('closed connections\' byte samples go at the next sample', async () => {
    broker.statistics.sample();
    const before = broker.statistics.sampleCounts.connections;
    const conns: AmqpConnection[] = [];
    for (let i = 0; i < 20; i++) conns.push(await connect(broker));
    broker.statistics.sample();
    expect(broker.statistics.sampleCounts.connections).toBe(before + 20);
    for (const c of conns) await c.close();
    await broker.whenIdle();
    broker.statistics.sample();
    expect(broker.statistics.sampleCounts.connections).toBe(before);
  });

  it('a vhost deleted behind the API\'s back (the testing reset) loses its samples at the next sample', async () => {
    await createVhost('reset-me');
    broker.statistics.sample();
    const withIt = broker.statistics.sampleCounts.vhosts;
    await broker.reset();
    broker.statistics.sample();
    expect(broker.statistics.sampleCounts.vhosts).toBeLessThan(withIt);
    expect(broker.vhosts.has('reset-me')).toBe(false);
  });
});
