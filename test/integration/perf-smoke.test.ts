/**
 * `warren perf` against an in-process broker, through the module's API:
 * a ~1 s throughput run (no-ack: every published message is delivered), a
 * confirms + manual-ack run, and the sink's ceiling (in-process fallback).
 * Every run must leave no queue behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { perfOptions, runScenario } from '../../src/perf/index.js';
import { connect, startBroker } from '../helpers/broker.js';

describe('warren perf (in-process broker)', () => {
  let broker: Broker;
  let url: string;
  beforeAll(async () => {
    broker = await startBroker();
    url = broker.url();
  });
  afterAll(async () => { await broker.stop(); });

  async function queueExists(name: string): Promise<boolean> {
    const conn = await connect(broker);
    try {
      const ch = await conn.createChannel();
      ch.on('error', () => {});
      await ch.checkQueue(name);
      return true;
    } catch {
      return false;
    } finally {
      await conn.close().catch(() => {});
    }
  }

  it('throughput, no-ack: published > 0 and delivered == published', async () => {
    const r = await runScenario(perfOptions('throughput', { url, time: 1 }));
    expect(r.broker).toMatch(/^Warren/);
    const published = r.info['published'] as number;
    expect(published).toBeGreaterThan(0);
    expect(r.info['delivered']).toBe(published);
    expect(r.info['caught_up']).toBe(true);
    expect(r.metrics['published_msgs_s']).toBeGreaterThan(0);
    expect(r.metrics['delivered_msgs_s']).toBeGreaterThan(0);
  });

  it('throughput with confirms and manual multi-acks: everything confirmed and delivered', async () => {
    const r = await runScenario(perfOptions('throughput', { url, time: 0.5, confirm: 64, ack: true, prefetch: 50, multiAck: 10, publishers: 2, consumers: 2, queues: 2, size: 300 }));
    const published = r.info['published'] as number;
    expect(published).toBeGreaterThan(0);
    expect(r.info['confirmed']).toBe(published);
    expect(r.info['delivered']).toBe(published);
    expect(r.metrics['confirmed_msgs_s']).toBeGreaterThan(0);
  });

  it('a message limit bounds the run; the queues are deleted afterwards', async () => {
    // The check below must be able to see a queue that exists.
    const conn = await connect(broker);
    await (await conn.createChannel()).assertQueue('perf-smoke-control');
    expect(await queueExists('perf-smoke-control')).toBe(true);
    await conn.close();
    const r = await runScenario(perfOptions('throughput', { url, time: 10, messages: 5000 }));
    expect(r.info['published']).toBe(5000);
    expect(r.info['delivered']).toBe(5000);
    expect(r.runId).toMatch(/^perf-/);
    expect(await queueExists(`${r.runId}-q0`)).toBe(false);
  });

  it('fanout delivers each message to every queue', async () => {
    // The message limit ends the run (the time limit is only a backstop: a slow machine needs longer).
    const r = await runScenario(perfOptions('fanout', { url, time: 15, queues: 3, messages: 2000 }));
    expect(r.info['published']).toBe(2000);
    expect(r.info['delivered']).toBe(6000);
    expect(await queueExists(`${r.runId}-fq0`)).toBe(false);
  });

  it('topic: delivered equals the reference matcher\'s expectation', async () => {
    const r = await runScenario(perfOptions('topic', { url, time: 15, queues: 20, bindings: 200, routingKeys: 100, messages: 1000 }));
    expect(r.info['published']).toBe(1000);
    expect(r.info['delivered_per_published']).toBe(r.info['expected_fanout']);
  });

  it('the sink: the tool publishes and consumes far faster than it needs to', async () => {
    // Compared with a broker run on the same machine at the same time, not with
    // fixed rates: "fast enough" is relative to what it measures.
    const through = await runScenario(perfOptions('throughput', { url, time: 0.5 }));
    const r = await runScenario(perfOptions('sink', { time: 0.5 }));
    const detail = `sink ${JSON.stringify(r.metrics)}; broker ${JSON.stringify(through.metrics)}`;
    expect(r.metrics['publish_msgs_s'], detail).toBeGreaterThan(2 * (through.metrics['published_msgs_s'] as number));
    expect(r.metrics['sink_received_msgs_s'], detail).toBeGreaterThan(0);
    expect(r.metrics['consume_msgs_s'], detail).toBeGreaterThan(through.metrics['delivered_msgs_s'] as number);
  });
});
