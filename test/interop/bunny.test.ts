/**
 * Bunny (Debian ruby-bunny 2.19 on amq-protocol 2.3) against Warren: the whole
 * scenario (see scenario.ts), a byte-exact check of the content header Bunny
 * encoded, and an amqplib cross-check of the decoded properties.
 *
 * Not covered, and why: amq-protocol 2.3 encodes a BigDecimal wrongly (3.14 goes
 * out as decimal 3) and has no byte-array encoder (a binary String goes out as a
 * long string), so Bunny's message carries no decimal and no byte array; it
 * reads both from amqplib's message.
 *
 * amq-protocol 2.3's decoder quirks (client-side, the same against RabbitMQ; pika
 * and py-amqp read the same bytes correctly): it reads the signed byte 'b' as
 * unsigned (amqplib sends -7 as 'b' → 249), and its array decoder stops 4 bytes
 * early (`while offset <= initial_offset + array_length`), so amqplib's [1, 2, 3]
 * (three 2-byte 'b' items) comes back as [1, 2].
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { requireTool } from './requirements.js';
import type { JsonObject } from './scenario.js';
import { defineClientScenario } from './client-suite.js';

const SCRIPT = fileURLToPath(new URL('./clients/bunny_scenario.rb', import.meta.url));

defineClientScenario({
  title: 'interop: bunny',
  tool: requireTool('ruby', "require 'bunny'", 'ruby-bunny'),
  prefix: 'bunny',
  args: (port, spec) => [SCRIPT, String(port), JSON.stringify(spec)],
  extraHeaders: {
    'x-float': 1.5,
    'x-timestamp': { $timestamp: 1_700_000_000 },
    'x-void': null,
  },
  selfEncoding: 'header',
  expectFromJs: (sent) => {
    const headers = sent.headers as JsonObject;
    return { ...sent, headers: { ...headers, 'x-negative': 249, 'x-nested': { level: 1, inner: { deep: 'yes', list: [1, 2] } } } };
  },
  checkError: (s) => expect(s).toMatchObject({ exception: 'Bunny::NotFound', channel_open: false }),
});
