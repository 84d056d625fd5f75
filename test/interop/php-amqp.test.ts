/**
 * php-amqp (Debian php-amqp 1.11, the PECL extension on librabbitmq 0.11) against
 * Warren: the whole scenario (see scenario.ts) and an amqplib cross-check of the
 * decoded properties.
 *
 * Not covered, and why:
 * - no byte-exact check: php-amqp does not expose its encoding of the properties;
 * - basic.get's message-count: php-amqp's AMQPQueue::get() does not expose it;
 * - declare-ok's consumer count: AMQPQueue::declareQueue() returns the message count only;
 * - php-amqp has no byte-array field type (a binary string goes out as a long string),
 *   so its message carries no byte array (it reads amqplib's as a binary string);
 * - the error text arrives wrapped in php-amqp's exception message
 *   ("Server channel error: 404, message: NOT_FOUND - …"): checked by inclusion.
 *
 * php-amqp's decoder quirks (client-side, the same against RabbitMQ; amqplib reads
 * the same bytes correctly): inside a field array it keeps only strings and tables
 * and drops every other item (parse_amqp_table in amqp_basic_properties.c), so
 * [1, "two", true, {k: "v"}] reads as ["two", {k: "v"}] and [1, 2, 3] as []; and it
 * reports an absent property as "" (so the script treats "" as absent).
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { requireTool } from './requirements.js';
import type { Json, Props } from './scenario.js';
import { defineClientScenario } from './client-suite.js';

/** What php-amqp shows for `v`: arrays keep only their string and table items. */
function phpView(v: Json): Json {
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string' || (x !== null && typeof x === 'object' && !Array.isArray(x))).map(phpView);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, phpView(x)]));
  return v;
}
const phpProps = (p: Props): Props => ({ ...p, headers: phpView(p.headers ?? null) });

const SCRIPT = fileURLToPath(new URL('./clients/php_amqp_scenario.php', import.meta.url));

defineClientScenario({
  title: 'interop: php-amqp',
  tool: requireTool('php', "if (!class_exists('AMQPConnection')) exit(1);", 'php-cli php-amqp'),
  prefix: 'php',
  args: (port, spec) => [SCRIPT, String(port), JSON.stringify(spec)],
  extraHeaders: {
    'x-float': 1.5,
    'x-decimal': { $decimal: '3.14' },
    'x-timestamp': { $timestamp: 1_700_000_000 },
    'x-void': null,
  },
  expectConsumed: phpProps,
  expectFromJs: phpProps,
  gaps: {
    declareConsumerCount: 'AMQPQueue::declareQueue() returns the message count only',
    getMessageCount: 'AMQPQueue::get() does not expose it',
    errorTextWrapped: true,
  },
  checkError: (s) => expect(s).toMatchObject({ exception: 'AMQPQueueException', channel_open: false }),
});
