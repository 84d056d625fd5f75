/**
 * pika (Debian python3-pika 1.2, BlockingConnection) against Warren: the whole
 * scenario (see scenario.ts), plus a byte-exact check of the content header pika
 * encoded, and an amqplib cross-check of the decoded properties.
 *
 * Not covered, and why: pika has no encoder for floats in field tables (it raises
 * UnsupportedAMQPFieldException), so pika's own message carries a decimal, a
 * timestamp, a byte array and a void instead of a double.
 *
 * pika's decoder quirks (client-side, the same against RabbitMQ, which relays the
 * bytes untouched like Warren): it reads the signed byte 'b' as unsigned (amqplib
 * sends -7 as 'b' → pika shows 249) and truncates doubles to integers (1.5 → 1).
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { requireTool } from './requirements.js';
import { defineClientScenario } from './client-suite.js';

const SCRIPT = fileURLToPath(new URL('./clients/pika_scenario.py', import.meta.url));

defineClientScenario({
  title: 'interop: pika',
  tool: requireTool('python3', 'import pika', 'python3-pika'),
  prefix: 'pika',
  args: (port, spec) => [SCRIPT, String(port), JSON.stringify(spec)],
  extraHeaders: {
    'x-decimal': { $decimal: '3.14' },
    'x-timestamp': { $timestamp: 1_700_000_000 },
    'x-bytes': { $bytes: '00ff10' },
    'x-void': null,
  },
  selfEncoding: 'flags',
  expectFromJs: (sent) => ({
    ...sent,
    headers: { ...(sent.headers as object), 'x-negative': 249, 'x-float': 1 },
  }),
  checkError: (s) => expect(s.channel_open).toBe(false),
});
