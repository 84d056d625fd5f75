/**
 * kombu (Debian python3-kombu, pyamqp transport) chooses basic.qos semantics
 * by server_properties.product/version: seeing "RabbitMQ" ≥ 3.3 it gives
 * `global` RabbitMQ's meaning, which Warren implements. A Celery worker then
 * sends its prefetch with global=true, and raising it (for an ETA/countdown
 * task it holds unacked) reaches its existing consumer. Announced as anything
 * else, kombu uses the spec's meaning (global=false), and the raise applies
 * only to consumers started later: the worker never gets another message.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { RABBITMQ_COMPATIBLE_VERSION, VERSION } from '../../src/version.js';
import { startBroker } from '../helpers/broker.js';
import { describeWithTool, requireTool } from './requirements.js';
import { runClient, stepOf, stepsOf, type ClientRun } from './scenario.js';

const SCRIPT = fileURLToPath(new URL('./clients/kombu_qos.py', import.meta.url));
const tool = requireTool('python3', 'import kombu, amqp', 'python3-kombu');

describeWithTool('interop: kombu basic.qos semantics (Celery prefetch)', tool, () => {
  let broker: Broker;
  let run: ClientRun;
  beforeAll(async () => {
    broker = await startBroker();
    run = await runClient(tool.command, [SCRIPT, String(broker.port), 'kombu-qos'], { timeoutMs: 30_000 });
  }, 45_000);
  afterAll(() => broker?.stop());

  it('kombu sees product RabbitMQ with the version Warren follows, so it uses RabbitMQ\'s qos semantics', () => {
    expect(stepOf(run, 'server'), run.stdout + run.stderr).toEqual({
      step: 'server',
      product: 'RabbitMQ',
      version: RABBITMQ_COMPATIBLE_VERSION,
      warren_version: VERSION,
      qos_semantics_matches_spec: false,
    });
  });

  it('a prefetch increase (global, as Celery sends it) reaches the existing consumer while it holds its first message unacked', () => {
    expect(run.steps.map((s) => s.step), run.stdout + run.stderr).toEqual(['server', 'delivery', 'raising_prefetch', 'delivery', 'done']);
    expect(stepOf(run, 'raising_prefetch')).toMatchObject({ prefetch_count: 2, apply_global: true });
    expect(stepsOf(run, 'delivery').map((d) => [d.body, d.unacked_held])).toEqual([['task-1', 1], ['task-2', 2]]);
  });
});
