/**
 * kombu (Debian python3-kombu 5.2, pyamqp transport) against Warren: the whole
 * scenario (see scenario.ts) through kombu's public API (Exchange, Queue,
 * Producer, Consumer, Queue.get, transport_options={'confirm_publish': True}).
 *
 * Not covered, and why:
 * - kombu never hands out the message it builds, so the byte-exact check compares
 *   the broker's bytes with the message kombu's channel prepares from the same
 *   arguments (Channel.prepare_message, the call Producer.publish makes);
 * - no amqplib cross-check: kombu sends through py-amqp, which writes ints beyond
 *   int32 with the 'L' tag amqplib cannot decode;
 * - kombu cannot pass the expiration as a string: Producer.publish takes seconds
 *   (600 → "600000" on the wire, which is what is checked).
 *
 * py-amqp's decoder quirk (client-side): the signed byte 'b' reads as unsigned
 * (amqplib sends -7 as 'b' → 249).
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { requireTool } from './requirements.js';
import { defineClientScenario } from './client-suite.js';

const SCRIPT = fileURLToPath(new URL('./clients/kombu_scenario.py', import.meta.url));

defineClientScenario({
  title: 'interop: kombu',
  tool: requireTool('python3', 'import kombu, amqp', 'python3-kombu'),
  prefix: 'kombu',
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
