/**
 * py-amqp (Debian python3-amqp 5.1, Celery's transport) against Warren: the whole
 * scenario (see scenario.ts), plus a byte-exact check of the content header
 * py-amqp encoded.
 *
 * Not covered, and why:
 * - no amqplib cross-check of py-amqp's message: py-amqp writes every int beyond
 *   ±2^31-1 with the 'L' tag (RabbitMQ reads it as a signed 64-bit int, like
 *   'l'), which amqplib 2.3 cannot decode ("Unexpected type tag L"); the raw
 *   byte-exact check covers that copy instead.
 * - no byte-array header from py-amqp: it writes Python bytes as a long string 'S'.
 *
 * py-amqp's decoder quirk (client-side, the same against RabbitMQ): it reads the
 * signed byte 'b' as unsigned (amqplib sends -7 as 'b' → py-amqp shows 249).
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { requireTool } from './requirements.js';
import { defineClientScenario } from './client-suite.js';

const SCRIPT = fileURLToPath(new URL('./clients/py_amqp_scenario.py', import.meta.url));

defineClientScenario({
  title: 'interop: py-amqp',
  tool: requireTool('python3', 'import amqp', 'python3-amqp'),
  prefix: 'pyamqp',
  args: (port, spec) => [SCRIPT, String(port), JSON.stringify(spec)],
  extraHeaders: {
    'x-float': 1.5,
    'x-decimal': { $decimal: '3.14' },
    'x-timestamp': { $timestamp: 1_700_000_000 },
    'x-void': null,
  },
  selfEncoding: 'flags',
  noAmqplibCrossCheck: "amqplib cannot decode py-amqp's 'L' (64-bit int) tag",
  expectFromJs: (sent) => ({ ...sent, headers: { ...(sent.headers as object), 'x-negative': 249 } }),
  checkError: (s) => expect(s.exception).toBe('NotFound'),
});
