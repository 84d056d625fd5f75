/**
 * Dual-stack listening: by default Warren listens on every interface for IPv6
 * and IPv4 (as RabbitMQ's [::] and 0.0.0.0 listeners), so a client that
 * resolves localhost to ::1 connects; an explicit host keeps its meaning.
 *
 * The ::1 cases need an IPv6 loopback on the machine running the tests. That
 * is checked at runtime (a listener on ::1 port 0); without one they are
 * skipped with a message saying so — nothing else can be tested there.
 */
import { createServer } from 'node:net';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { roundTrip } from '../helpers/amqp-checks.js';
import { RawClient } from '../helpers/raw-client.js';

/** True when this machine can listen on (and so be reached at) the IPv6 loopback address. */
function hasIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

const ipv6 = await hasIpv6Loopback();
if (!ipv6) console.warn('[dual-stack] this machine has no IPv6 loopback (::1): the ::1 client cases are skipped');

describe('dual-stack listening', () => {
  let broker: Broker;
  beforeAll(async () => { broker = await Broker.start({ port: 0, logLevel: 'silent' }); }); // no host: the default
  afterAll(async () => { await broker.stop(); });

  it.skipIf(!ipv6)('a client connecting to ::1 is served by a broker started without a host (raw socket and amqplib)', async () => {
    const c = await RawClient.connect(broker.port, '::1');
    await c.handshake();
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'over-ipv6', exclusive: true } });
    expect((await c.waitForMethod(MethodId.QueueDeclareOk, 1, 10_000)).queue).toBe('over-ipv6');
    await c.close();
    // guest is loopback-only: ::1 counts as loopback.
    const conn = await amqp.connect(`amqp://guest:guest@[::1]:${broker.port}`);
    expect(await roundTrip(conn, 'via ::1')).toBe('via ::1');
    await conn.close();
  });

  it('an IPv4 client is served by the same default listener', async () => {
    const c = await RawClient.connect(broker.port, '127.0.0.1');
    await c.handshake();
    await c.openChannel(1);
    await c.close();
    const conn = await amqp.connect(broker.url());
    expect(await roundTrip(conn, 'via 127.0.0.1')).toBe('via 127.0.0.1');
    await conn.close();
  });

  it.skipIf(!ipv6)('an explicit host keeps its meaning: a broker on 127.0.0.1 refuses ::1', async () => {
    const v4only = await Broker.start({ port: 0, host: '127.0.0.1', logLevel: 'silent' });
    try {
      await expect(RawClient.connect(v4only.port, '::1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const c = await RawClient.connect(v4only.port, '127.0.0.1');
      await c.handshake();
      await c.close();
    } finally {
      await v4only.stop();
    }
  });
});
