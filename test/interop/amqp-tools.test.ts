/**
 * amqp-tools (Debian amqp-tools 0.11, the command-line tools of librabbitmq-c:
 * amqp-declare-queue, amqp-publish, amqp-consume, amqp-get) against Warren,
 * through clients/amqp_tools_scenario.sh.
 *
 * What the tools cannot do, and how the scenario copes:
 * - declare an exchange: the test declares `p.direct` and `p.topic` with amqplib;
 * - bind a queue that outlives the binder: the only way to bind is
 *   amqp-consume -e/-r, which declares the queue auto-delete, binds it and
 *   consumes; so bound queues are read by a background amqp-consume that the
 *   script starts, proves bound (a probe sent straight to the queue comes
 *   through) and stops after an end marker (nothing extra may arrive between);
 * - amqp-declare-queue declares a plain queue and prints its name only (no
 *   declare-ok counts);
 * - set most basic properties: amqp-publish has content-type, content-encoding,
 *   reply-to, persistent (delivery-mode 2) and headers as "key: value" strings
 *   only — no priority, correlation-id, expiration, message-id, timestamp, type,
 *   user-id, app-id, and no nested table/array/typed header values; what it does
 *   set is checked on a second copy (`p.props-js`, bound by the test) with amqplib;
 * - show the properties of a received message: amqp-consume and amqp-get give
 *   the body only, so the receiving side checks bodies (byte for byte, including
 *   NUL and non-UTF-8 bytes);
 * - publisher confirms: amqp-publish has no confirm mode (not applicable);
 * - passive declare: amqp-declare-queue has no --passive; the 404 NOT_FOUND is
 *   checked on basic.get of a missing queue (amqp-get), the same channel error.
 */
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { describeWithTool, requireAll, requireTool } from './requirements.js';
import {
  BODY,
  TOPIC,
  amqplibGet,
  messageCount,
  missingQueueText,
  prepareFromJs,
  runClient,
  stepOf,
  topicResult,
  withChannel,
  type AmqplibConnection,
  type ClientRun,
} from './scenario.js';

const SCRIPT = fileURLToPath(new URL('./clients/amqp_tools_scenario.sh', import.meta.url));
const tool = requireAll(
  requireTool('bash', ['-c', 'exit 0'], 'bash'),
  ...['amqp-declare-queue', 'amqp-publish', 'amqp-consume', 'amqp-get'].map((t) => requireTool(t, ['--help'], 'amqp-tools')),
);

describeWithTool('interop: amqp-tools', tool, () => {
  const p = 'tools';
  let broker: Broker;
  let conn: AmqplibConnection;
  let run: ClientRun;

  beforeAll(async () => {
    broker = await startBroker();
    conn = await amqp.connect(broker.url());
    await withChannel(conn, async (ch) => {
      await ch.assertExchange(`${p}.direct`, 'direct', { durable: false });
      await ch.assertExchange(`${p}.topic`, 'topic', { durable: false });
      // the copy whose properties amqplib checks
      await ch.assertQueue(`${p}.props-js`, { durable: false });
      await ch.bindQueue(`${p}.props-js`, `${p}.direct`, 'props');
    });
    await prepareFromJs(conn, p);
    run = await runClient(tool.command, [SCRIPT, String(broker.port), p, BODY.toString('hex')], {
      timeoutMs: 30_000,
      env: { TOPIC_BINDINGS: TOPIC.bindings.map(([s, pattern]) => `${s}=${pattern}`).join(' '), TOPIC_KEYS: TOPIC.publish.join(' ') },
    });
  }, 45_000);
  afterAll(async () => {
    await conn?.close();
    await broker?.stop();
  });

  it('connects, declares a queue, publishes to it and consumes it with an ack', async () => {
    stepOf(run, 'connect');
    expect(stepOf(run, 'declare').queue).toBe(`${p}.declared`);
    expect(Buffer.from(stepOf(run, 'consume_plain').body_hex as string, 'hex').toString()).toBe('plain-body');
    expect(await messageCount(conn, `${p}.declared`)).toBe(0); // acked, not requeued at disconnect
  });

  it('publishes with every property amqp-publish has through a binding; the consumer gets the body byte for byte', async () => {
    expect(stepOf(run, 'consume').bodies_hex).toEqual([BODY.toString('hex')]);
    const copy = await amqplibGet(conn, `${p}.props-js`);
    expect(copy?.body.equals(BODY)).toBe(true);
    expect(copy?.props).toEqual({
      content_type: 'application/x-warren-interop',
      content_encoding: 'utf-8',
      delivery_mode: 2,
      reply_to: `${p}.replies`,
      headers: { 'x-string': 'héllo ✓ wörld', 'x-int': '42', 'x-colon': 'a: b' },
    });
  });

  it('basic.get (amqp-get) returns the body amqplib published, then exits 2 on the empty queue', async () => {
    expect(stepOf(run, 'get')).toMatchObject({ body_hex: BODY.toString('hex'), exit_code: 0 });
    expect(stepOf(run, 'get_empty')).toMatchObject({ empty: true, exit_code: 2 });
    expect(await messageCount(conn, `${p}.from-js`)).toBe(0);
  });

  // Publisher confirms are not covered for amqp-tools: amqp-publish has no confirm mode.

  it('a topic exchange routes to the queues whose patterns match', () => {
    expect(topicResult(run)).toEqual(TOPIC.expected);
  });

  it('basic.get of a missing queue fails with 404 NOT_FOUND (no passive declare in amqp-tools)', () => {
    expect(stepOf(run, 'error')).toMatchObject({ code: 404, text: missingQueueText(p), exit_code: 1 });
  });

  it('finishes', () => {
    stepOf(run, 'done');
    expect(run.code, run.stderr).toBe(0);
  });
});
