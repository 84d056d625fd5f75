/**
 * Dead-lettering as a Python app uses it: pika (Debian python3-pika) runs the
 * retry-with-backoff pattern against Warren (work queue → reject → retry
 * exchange → TTL'd retry queue → back to the work exchange; the worker reads
 * its attempt number from x-death and acks on the 3rd attempt), reads a
 * message whose own expiration ran out from its DLQ, and publishes an invalid
 * expiration. The test checks what pika decoded: the full x-death history,
 * x-first-death-*, original-expiration, and the 406.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { describeWithTool, requireTool } from './requirements.js';
import { runClient, stepOf, stepsOf, type ClientRun } from './scenario.js';

const SCRIPT = fileURLToPath(new URL('./clients/pika_dead_letter.py', import.meta.url));
const tool = requireTool('python3', 'import pika', 'python3-pika');

type Props = { headers?: Record<string, unknown>; delivery_mode?: number; expiration?: string; message_id?: string };

/** x-death entries as pika decoded them, each time checked to be a timestamp within the run and then dropped. */
function deaths(props: Props, from: number, to: number): Record<string, unknown>[] {
  const xdeath = props.headers?.['x-death'];
  expect(Array.isArray(xdeath)).toBe(true);
  return (xdeath as Record<string, unknown>[]).map(({ time, ...rest }) => {
    const t = (time as { $timestamp?: number }).$timestamp;
    expect(typeof t).toBe('number');
    expect(t!).toBeGreaterThanOrEqual(Math.floor(from / 1000));
    expect(t!).toBeLessThanOrEqual(Math.ceil(to / 1000));
    return rest;
  });
}

describeWithTool('interop: pika dead-lettering and retries', tool, () => {
  let broker: Broker;
  let run: ClientRun;
  let from = 0;
  let to = 0;

  beforeAll(async () => {
    broker = await startBroker();
    from = Date.now();
    run = await runClient(tool.command, [SCRIPT, String(broker.port), 'pk'], { timeoutMs: 30_000 });
    to = Date.now();
  }, 45_000);
  afterAll(() => broker?.stop());

  it('runs to the end', () => {
    expect(stepOf(run, 'done')).toBeDefined();
  });

  it('the worker sees attempts 1, 2, 3, each retry coming back through the work exchange', () => {
    const deliveries = stepsOf(run, 'delivery');
    expect(deliveries.map((d) => [d.attempt, d.body, d.exchange, d.routing_key, d.redelivered])).toEqual([
      [1, 'job-1', 'pk.work-x', 'task', false],
      [2, 'job-1', 'pk.work-x', 'task', false],
      [3, 'job-1', 'pk.work-x', 'task', false],
    ]);
    const first = deliveries[0]!.properties as Props;
    expect(first).toEqual({ headers: { tenant: 't1' }, delivery_mode: 2, message_id: 'job-1' });
  });

  it('x-death as pika decodes it: counts for the retry queue (expired) and the work queue (rejected)', () => {
    const [, second, third] = stepsOf(run, 'delivery').map((d) => d.properties as Props);
    expect(deaths(second!, from, to)).toEqual([
      { count: 1, reason: 'expired', queue: 'pk.retry', exchange: 'pk.retry-x', 'routing-keys': ['task'] },
      { count: 1, reason: 'rejected', queue: 'pk.work', exchange: 'pk.work-x', 'routing-keys': ['task'] },
    ]);
    expect(deaths(third!, from, to)).toEqual([
      { count: 2, reason: 'expired', queue: 'pk.retry', exchange: 'pk.retry-x', 'routing-keys': ['task'] },
      { count: 2, reason: 'rejected', queue: 'pk.work', exchange: 'pk.work-x', 'routing-keys': ['task'] },
    ]);
    for (const p of [second!, third!]) {
      expect(p.headers).toMatchObject({ tenant: 't1', 'x-first-death-reason': 'rejected', 'x-first-death-queue': 'pk.work', 'x-first-death-exchange': 'pk.work-x' });
      expect(Object.keys(p.headers!).sort()).toEqual(['tenant', 'x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason']);
      expect(p).toMatchObject({ delivery_mode: 2, message_id: 'job-1' });
    }
  });

  it('a message whose own expiration ran out reaches its DLQ with original-expiration and no expiration', () => {
    const s = stepOf(run, 'expired');
    expect([s.body, s.exchange, s.routing_key]).toEqual(['short-lived', '', 'pk.exp-dlq']);
    const props = s.properties as Props;
    expect(props.expiration).toBeUndefined();
    expect(deaths(props, from, to)).toEqual([
      { count: 1, reason: 'expired', queue: 'pk.exp', exchange: '', 'routing-keys': ['pk.exp'], 'original-expiration': '30' },
    ]);
    expect(props.headers).toMatchObject({ 'x-first-death-reason': 'expired', 'x-first-death-queue': 'pk.exp', 'x-first-death-exchange': '' });
  });

  it('an invalid expiration closes the channel with 406 PRECONDITION_FAILED', () => {
    expect(stepOf(run, 'bad_expiration')).toMatchObject({ reply_code: 406, reply_text: "PRECONDITION_FAILED - invalid expiration 'soon': no_integer" });
  });
});
