import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A gauge's value in Prometheus text (unlabelled sample). */
function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no sample for ${name}`);
  return Number(m[1]);
}

/** The memory and disk alarms, with their limits and current values, in /api/nodes, the health checks and the metrics. */
describe('resource alarms are visible', () => {
  let broker: Broker;
  const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${broker.prometheusHttpPort}/metrics`)).text();
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 }, prometheus: { port: 0 }, diskFreeLimit: 1234567 });
  });
  afterAll(async () => {
    broker.setMemoryAlarm(null);
    broker.setDiskAlarm(null);
    await broker.stop();
  });

  it('no alarm: nodes show limits and current values, checks pass, gauges are 0', async () => {
    const [n] = await get<Json[]>(broker, '/api/nodes');
    expect(n).toMatchObject({ mem_alarm: false, disk_free_alarm: false, disk_free_limit: 1234567 });
    for (const k of ['mem_used', 'mem_limit', 'disk_free', 'disk_free_limit']) expect(Number.isInteger(n![k]) && n![k] > 0).toBe(true);
    expect((await api(broker, '/api/health/checks/alarms')).body).toEqual({ status: 'ok' });
    const text = await metrics();
    expect(gauge(text, 'rabbitmq_alarms_memory_used_watermark')).toBe(0);
    expect(gauge(text, 'rabbitmq_alarms_free_disk_space_watermark')).toBe(0);
    expect(gauge(text, 'rabbitmq_disk_space_available_limit_bytes')).toBe(1234567);
    expect(gauge(text, 'rabbitmq_resident_memory_limit_bytes')).toBe(n!.mem_limit);
    expect(gauge(text, 'rabbitmq_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(gauge(text, 'rabbitmq_disk_space_available_bytes')).toBeGreaterThan(0);
  });

  it('both alarms set: every view says so, and clearing them is seen too', async () => {
    broker.setMemoryAlarm(true);
    broker.setDiskAlarm(true);
    const [n] = await get<Json[]>(broker, '/api/nodes');
    expect(n).toMatchObject({ mem_alarm: true, disk_free_alarm: true });
    const check = await api(broker, '/api/health/checks/alarms');
    expect(check.status).toBe(503);
    expect(check.body).toEqual({ status: 'failed', reason: 'resource alarm(s) in effect in the cluster', alarms: [{ node: n!.name, resource: 'memory' }, { node: n!.name, resource: 'disk' }] });
    const local = await api(broker, '/api/health/checks/local-alarms');
    expect(local.status).toBe(503);
    expect((local.body as Json).alarms).toHaveLength(2);
    let text = await metrics();
    expect(gauge(text, 'rabbitmq_alarms_memory_used_watermark')).toBe(1);
    expect(gauge(text, 'rabbitmq_alarms_free_disk_space_watermark')).toBe(1);

    broker.setDiskAlarm(false);
    expect((await get<Json[]>(broker, '/api/nodes'))[0]).toMatchObject({ mem_alarm: true, disk_free_alarm: false });
    expect((await api(broker, '/api/health/checks/alarms')).body).toMatchObject({ alarms: [{ resource: 'memory' }] });
    broker.setMemoryAlarm(false);
    expect((await api(broker, '/api/health/checks/alarms')).body).toEqual({ status: 'ok' });
    text = await metrics();
    expect(gauge(text, 'rabbitmq_alarms_memory_used_watermark')).toBe(0);
    expect(gauge(text, 'rabbitmq_alarms_free_disk_space_watermark')).toBe(0);
  });
});
