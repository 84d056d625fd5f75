/**
 * connection.update-secret from pika with an arbitrary secret (as pika's own
 * test suite sends): Warren answers update-secret-ok, as RabbitMQ does for
 * users of its internal database, and the connection carries on. Debian's
 * pika 1.2 predates update_secret; the script adds pika 1.3's two method
 * definitions and sends it through pika's RPC machinery (see the script).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { describeWithTool, requireTool } from './requirements.js';
import { runClient, stepsOf, type ClientRun } from './scenario.js';

const SCRIPT = fileURLToPath(new URL('./clients/pika_update_secret.py', import.meta.url));
const tool = requireTool('python3', 'import pika', 'python3-pika');

describeWithTool('interop: pika connection.update-secret', tool, () => {
  let broker: Broker;
  let run: ClientRun;
  beforeAll(async () => {
    broker = await startBroker();
    run = await runClient(tool.command, [SCRIPT, String(broker.port), 'pika-secret'], { timeoutMs: 30_000 });
  }, 45_000);
  afterAll(() => broker?.stop());

  it('update-secret-ok comes back, and the same connection then publishes and reads a message', () => {
    expect(run.steps.map((s) => s.step), JSON.stringify(run.steps) + run.stderr).toEqual(['update_secret_ok', 'after', 'done']);
    expect(stepsOf(run, 'update_secret_ok')[0]!.method).toBe('Connection.UpdateSecretOk');
    expect(stepsOf(run, 'after')[0]!.body).toBe('after rotation');
  });
});
