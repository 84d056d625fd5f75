import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';

/**
 * Metric names the Grafana dashboard "RabbitMQ-Overview" (id 10991) queries,
 * plus the ones the issue lists: every one must be exposed.
 */
const DASHBOARD_METRICS = [
  'rabbitmq_identity_info',
  'rabbitmq_build_info',
  'rabbitmq_queue_messages_ready',
  'rabbitmq_queue_messages_unacked',
  'rabbitmq_queue_messages',
  'rabbitmq_queue_consumers',
  'rabbitmq_queues',
  'rabbitmq_connections',
  'rabbitmq_channels',
  'rabbitmq_consumers',
  'rabbitmq_channel_messages_published_total',
  'rabbitmq_channel_messages_confirmed_total',
  'rabbitmq_channel_messages_delivered_total',
  'rabbitmq_channel_messages_delivered_ack_total',
  'rabbitmq_channel_messages_acked_total',
  'rabbitmq_channel_messages_redelivered_total',
  'rabbitmq_channel_messages_unroutable_dropped_total',
  'rabbitmq_channel_messages_unroutable_returned_total',
  'rabbitmq_channel_get_ack_total',
  'rabbitmq_channel_get_total',
  'rabbitmq_channel_get_empty_total',
  'rabbitmq_channel_consumers',
  'rabbitmq_channels_opened_total',
  'rabbitmq_channels_closed_total',
  'rabbitmq_queues_declared_total',
  'rabbitmq_queues_created_total',
  'rabbitmq_queues_deleted_total',
  'rabbitmq_queue_messages_published_total',
  'rabbitmq_connections_opened_total',
  'rabbitmq_connections_closed_total',
  'rabbitmq_process_resident_memory_bytes',
  'rabbitmq_resident_memory_limit_bytes',
  'rabbitmq_alarms_memory_used_watermark',
  'rabbitmq_alarms_free_disk_space_watermark',
  'rabbitmq_alarms_file_descriptor_limit',
  'rabbitmq_disk_space_available_bytes',
  'rabbitmq_disk_space_available_limit_bytes',
  'rabbitmq_process_open_fds',
  'rabbitmq_process_max_fds',
  'rabbitmq_process_open_tcp_sockets',
  'rabbitmq_process_max_tcp_sockets',
];

/** Runs Debian's `promtool check metrics` on an exposition; returns its exit code and output. */
function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is missing (Debian package 'prometheus'): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** promtool accepts the exposition without a single complaint. */
function expectPromtoolAccepts(text: string): void {
  const check = promtool(text);
  expect(check.output).toBe('');
  expect(check.status).toBe(0);
}

/** One sample's value: `name{labels} value`. */
function sample(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const [key, value] = line.split(' ');
    if (key === `${name}${labels}`) return Number(value);
  }
  return undefined;
}

describe('Prometheus metrics', () => {
  let broker: Broker;
  let conn: AmqpConnection;
  const scrape = async (path: string): Promise<{ status: number; type: string | null; text: string }> => {
    const res = await fetch(`http://127.0.0.1:${broker.prometheusHttpPort}${path}`);
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  beforeAll(async () => {
    broker = await startBroker({ prometheus: { port: 0 } });
    conn = await connect(broker);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('metered');
    for (let i = 0; i < 7; i++) ch.sendToQueue('metered', Buffer.from('m'));
    ch.publish('', 'nowhere', Buffer.from('x'));
    await ch.waitForConfirms();
    const consumer = await conn.createChannel();
    await consumer.prefetch(2);
    let got = 0;
    await consumer.consume('metered', () => { got++; });
    await eventually(() => got === 2, WAIT_MS, 'two unacked deliveries');
  });
  afterAll(async () => {
    await conn.close().catch(() => undefined);
    await broker.stop();
  });

  it('/metrics: every dashboard metric, aggregated values, and promtool accepts it', async () => {
    const r = await scrape('/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of DASHBOARD_METRICS) expect(r.text, name).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
    expect(r.text).toMatch(/^# TYPE rabbitmq_channel_messages_published_total counter$/m);
    expect(r.text).toMatch(/^# TYPE rabbitmq_queue_messages_ready gauge$/m);
    expect(sample(r.text, 'rabbitmq_queue_messages_ready')).toBe(5);
    expect(sample(r.text, 'rabbitmq_queue_messages_unacked')).toBe(2);
    expect(sample(r.text, 'rabbitmq_queue_messages')).toBe(7);
    expect(sample(r.text, 'rabbitmq_queues')).toBe(1);
    expect(sample(r.text, 'rabbitmq_connections')).toBe(1);
    expect(sample(r.text, 'rabbitmq_channels')).toBe(2);
    expect(sample(r.text, 'rabbitmq_consumers')).toBe(1);
    expect(sample(r.text, 'rabbitmq_channel_messages_published_total')).toBe(8);
    expect(sample(r.text, 'rabbitmq_channel_messages_confirmed_total')).toBe(8);
    expect(sample(r.text, 'rabbitmq_channel_messages_unroutable_dropped_total')).toBe(1);
    expect(sample(r.text, 'rabbitmq_channel_messages_delivered_ack_total')).toBe(2);
    expect(sample(r.text, 'rabbitmq_connections_opened_total')).toBe(1);
    expect(sample(r.text, 'rabbitmq_channel_consumers')).toBe(1);
    expect(sample(r.text, 'rabbitmq_global_messages_received_total', '{protocol="amqp091"}')).toBe(8);
    expect(sample(r.text, 'rabbitmq_global_messages_routed_total', '{protocol="amqp091"}')).toBe(7);
    expect(sample(r.text, 'rabbitmq_global_messages_delivered_consume_manual_ack_total', '{protocol="amqp091"}')).toBe(2);
    expect(sample(r.text, 'rabbitmq_channels_opened_total')).toBe(2);
    expect(sample(r.text, 'rabbitmq_channels_closed_total')).toBe(0);
    expect(sample(r.text, 'rabbitmq_queues_declared_total')).toBe(1);
    expect(sample(r.text, 'rabbitmq_queues_created_total')).toBe(1);
    expect(sample(r.text, 'rabbitmq_queues_deleted_total')).toBe(0);
    expect(r.text).toMatch(/^rabbitmq_identity_info\{rabbitmq_node="warren@[^"]+",rabbitmq_cluster="[^"]+",rabbitmq_endpoint="aggregated"\} 1$/m);
    expectPromtoolAccepts(r.text);
  });

  it('/metrics/per-object: queue metrics labelled by vhost and queue, channel metrics by channel; promtool accepts it', async () => {
    const r = await scrape('/metrics/per-object');
    expect(r.status).toBe(200);
    expect(sample(r.text, 'rabbitmq_queue_messages_ready', '{vhost="/",queue="metered"}')).toBe(5);
    expect(sample(r.text, 'rabbitmq_queue_messages_unacked', '{vhost="/",queue="metered"}')).toBe(2);
    expect(sample(r.text, 'rabbitmq_queue_messages_published_total', '{vhost="/",queue="metered"}')).toBe(7);
    expect(r.text).toMatch(/^rabbitmq_channel_messages_published_total\{channel="[^"]+ -> [^"]+ \(\d+\)"\} 8$/m);
    expectPromtoolAccepts(r.text);
  });

  it('/metrics/detailed: only the families and vhosts asked for; promtool accepts it', async () => {
    const r = await scrape('/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&vhost=%2F');
    expect(r.status).toBe(200);
    expect(sample(r.text, 'rabbitmq_detailed_queue_messages_ready', '{vhost="/",queue="metered"}')).toBe(5);
    expect(sample(r.text, 'rabbitmq_detailed_queue_messages_unacked', '{vhost="/",queue="metered"}')).toBe(2);
    expect(sample(r.text, 'rabbitmq_detailed_queue_consumers', '{vhost="/",queue="metered"}')).toBe(1);
    expect(r.text).not.toMatch(/rabbitmq_detailed_queue_messages_bytes|rabbitmq_queue_messages_ready /);
    expect(r.text).toMatch(/rabbitmq_endpoint="detailed"/);
    expectPromtoolAccepts(r.text);
    // A vhost without queues: the families are listed, with no made-up samples.
    const other = await scrape('/metrics/detailed?family=queue_coarse_metrics&vhost=elsewhere');
    expect(other.text).toMatch(/^# TYPE rabbitmq_detailed_queue_messages_ready gauge$/m);
    expect(other.text).not.toMatch(/^rabbitmq_detailed_queue_messages_ready/m);
    expect(promtool(other.text).status).toBe(0);
  });

  it('answers 404 elsewhere, and the broker keeps serving', async () => {
    expect((await scrape('/nothing')).status).toBe(404);
    expect((await scrape('/metrics')).status).toBe(200);
  });
});
