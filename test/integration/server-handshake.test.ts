/**
 * The connection handshake over real TCP: protocol header, connection.start
 * (server properties, mechanisms, locales), SASL PLAIN / AMQPLAIN, tune /
 * tune-ok negotiation, connection.open and the access checks — each against
 * RabbitMQ's codes and texts.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { Constants, MethodId, PROTOCOL_HEADER } from '../../src/protocol/index.js';
import { RABBITMQ_COMPATIBLE_VERSION, VERSION } from '../../src/version.js';
import { roundTrip } from '../helpers/amqp-checks.js';
import { connect, eventually, sendInSeparateReads, startBroker } from '../helpers/broker.js';
import { RawClient, plainResponse } from '../helpers/raw-client.js';

describe('handshake', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({
      vhosts: ['/', 'v1', 'v2'],
      users: [
        { name: 'guest', password: 'guest' },
        { name: 'alice', password: 'wonderland', vhosts: ['v1'] },
        { name: 'bob', password: 'builder' },
      ],
    });
  });
  afterAll(async () => { await broker.stop(); });

  it('amqplib connects, opens and closes channels, and closes the connection', async () => {
    const conn = await connect(broker);
    expect(broker.connectionCount).toBe(1);
    const channels = await Promise.all([conn.createChannel(), conn.createChannel(), conn.createChannel()]);
    const channelCount = (): number | undefined => broker.connections()[0]?.channels;
    expect(broker.connections()).toMatchObject([{ state: 'running', channels: 3 }]);
    await channels[1]!.close();
    await eventually(() => channelCount() === 2, 10_000, 'channel closed on the server');
    // The freed channel number is reused by the next open.
    const again = await conn.createChannel();
    await eventually(() => channelCount() === 3, 10_000, 'channel reopened');
    await Promise.all([channels[0]!.close(), channels[2]!.close(), again.close()]);
    await eventually(() => channelCount() === 0, 10_000, 'all channels closed');
    await conn.close();
    await eventually(() => broker.connectionCount === 0, 10_000, 'connection gone on the server');
  });

  it('advertises RabbitMQ-style server properties and capabilities', async () => {
    const conn = await connect(broker);
    try {
      const props = conn.connection.serverProperties as unknown as Record<string, unknown>;
      // Product and version of the RabbitMQ release Warren follows (clients such as kombu
      // choose RabbitMQ's semantics by them); Warren's own name and version ride along.
      expect(props.product).toBe('RabbitMQ');
      expect(props.version).toBe(RABBITMQ_COMPATIBLE_VERSION);
      expect(RABBITMQ_COMPATIBLE_VERSION).toBe('3.13.7');
      expect(props.warren_version).toBe(VERSION);
      expect(props.platform).toBe(`Warren ${VERSION} on Node.js ${process.version}`);
      expect(props.information).toContain(`Warren ${VERSION}`);
      expect(props.cluster_name).toMatch(/^warren@/);
      expect(typeof props.copyright).toBe('string');
      expect(props.capabilities).toMatchObject({
        publisher_confirms: true,
        exchange_exchange_bindings: true,
        'basic.nack': true,
        consumer_cancel_notify: true,
        authentication_failure_close: true,
        per_consumer_qos: true,
      });
    } finally {
      await conn.close();
    }
  });

  it('productName overrides the advertised product; the rest stays', async () => {
    const other = await startBroker({ productName: 'Warren' });
    const c = await RawClient.connect(other.port);
    try {
      const { start } = await c.handshake({ until: 'start' });
      expect(start.serverProperties).toMatchObject({ product: 'Warren', version: RABBITMQ_COMPATIBLE_VERSION, warren_version: VERSION });
    } finally {
      c.destroy();
      await other.stop();
    }
  });

  it('sends connection.start 0-9 with PLAIN AMQPLAIN / en_US, then tune with the configured limits', async () => {
    const c = await RawClient.connect(broker.port);
    try {
      const { start, tune } = await c.handshake({ until: 'tune-ok' });
      expect(start.versionMajor).toBe(0);
      expect(start.versionMinor).toBe(9);
      expect(start.mechanisms.toString()).toBe('PLAIN AMQPLAIN');
      expect(start.locales.toString()).toBe('en_US');
      expect(start.serverProperties.product).toBe('RabbitMQ');
      expect(tune).toEqual({ channelMax: 2047, frameMax: 131072, heartbeat: 60 });
    } finally {
      c.destroy();
    }
  });

  it('logs in with AMQPLAIN (raw client and amqplib)', async () => {
    const c = await RawClient.open(broker.port, { mechanism: 'AMQPLAIN', user: 'bob', password: 'builder', vhost: 'v2' });
    await c.openChannel(1);
    await c.close();
    expect(c.methods.map((m) => m.id)).toContain(MethodId.ConnectionOpenOk);

    const conn = await amqp.connect({ hostname: '127.0.0.1', port: broker.port, vhost: 'v1', credentials: amqp.credentials.amqplain('alice', 'wonderland') });
    expect(await roundTrip(conn, 'via amqplain')).toBe('via amqplain');
    await conn.close();
  });

  it('stores client properties and capabilities on the connection', async () => {
    const conn = await amqp.connect(broker.url(), { clientProperties: { connection_name: 'props-test', custom: 42 } });
    try {
      const server = broker.connections().find((s) => s.name === 'props-test');
      expect(server).toBeDefined();
      expect(server!.clientProperties['custom']).toBe(42);
      expect(server!.clientProduct).toBe('amqplib');
      expect(server!.clientProperties['capabilities']).toMatchObject({ authentication_failure_close: true, consumer_cancel_notify: true, publisher_confirms: true });
      expect(server!.user).toBe('guest');
      expect(server!.vhost).toBe('/');
    } finally {
      await conn.close();
    }
  });

  describe('authentication and access', () => {
    const REFUSED = 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.';

    it('wrong password: amqplib (authentication_failure_close) gets 403 ACCESS_REFUSED', async () => {
      await expect(connect(broker, { password: 'wrong' })).rejects.toThrow(`Handshake terminated by server: 403 (ACCESS-REFUSED) with message "${REFUSED}"`);
    });

    it('wrong password: raw client with the capability gets connection.close 403, then the socket closes', async () => {
      const c = await RawClient.connect(broker.port);
      await c.handshake({ password: 'nope', until: 'start-ok' });
      const close = await c.expectConnectionClose();
      expect(close).toEqual({ replyCode: 403, replyText: REFUSED, classId: 0, methodId: 0 });
    });

    it('unknown user is refused the same way as a wrong password', async () => {
      const c = await RawClient.connect(broker.port);
      await c.handshake({ user: 'mallory', password: 'x', until: 'start-ok' });
      expect((await c.expectConnectionClose()).replyText).toBe(REFUSED);
    });

    it('wrong password without authentication_failure_close: the socket is just closed', async () => {
      const c = await RawClient.connect(broker.port);
      await c.handshake({ password: 'nope', capabilities: {}, until: 'start-ok' });
      await c.waitClosed();
      expect(c.methods.map((m) => m.id)).toEqual([MethodId.ConnectionStart]);
    });

    it('a malformed PLAIN response is refused with 403', async () => {
      const c = await RawClient.connect(broker.port);
      await c.handshake({ response: Buffer.from('no-nul-separators'), until: 'start-ok' });
      expect((await c.expectConnectionClose()).replyCode).toBe(403);
    });

    it('an unknown SASL mechanism is 503 COMMAND_INVALID', async () => {
      const c = await RawClient.connect(broker.port);
      await c.handshake({ mechanism: 'EXTERNAL', response: plainResponse('guest', 'guest'), until: 'start-ok' });
      const close = await c.expectConnectionClose();
      expect(close.replyCode).toBe(503);
      expect(close.replyText).toBe("COMMAND_INVALID - unknown authentication mechanism 'EXTERNAL'");
      expect([close.classId, close.methodId]).toEqual([10, 11]);
    });

    it('unknown vhost: 530 "NOT_ALLOWED - vhost foo not found" (amqplib and raw)', async () => {
      // amqplib reports a close during connection.open without its text; the raw client shows it.
      await expect(connect(broker, { vhost: 'foo' })).rejects.toThrow('Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
      const c = await RawClient.connect(broker.port);
      await c.handshake({ vhost: 'foo', until: 'tune-ok' });
      c.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: 'foo' } });
      expect(await c.expectConnectionClose()).toEqual({ replyCode: 530, replyText: 'NOT_ALLOWED - vhost foo not found', classId: 10, methodId: 40 });
    });

    it('vhost without permission: 530 access refused', async () => {
      await expect(connect(broker, { user: 'alice', password: 'wonderland', vhost: 'v2' })).rejects.toThrow('got <ConnectionClose channel:0>');
      const c = await RawClient.connect(broker.port);
      await c.handshake({ user: 'alice', password: 'wonderland', until: 'tune-ok' });
      c.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: 'v2' } });
      expect(await c.expectConnectionClose()).toEqual({
        replyCode: 530,
        replyText: "NOT_ALLOWED - access to vhost 'v2' refused for user 'alice'",
        classId: 10,
        methodId: 40,
      });
      // ...while the vhost she is granted works.
      const ok = await connect(broker, { user: 'alice', password: 'wonderland', vhost: 'v1' });
      expect(await roundTrip(ok)).toMatch(/^ping-/);
      await ok.close();
    });

    it('guest (a loopback user) connects over 127.0.0.1', async () => {
      const conn = await connect(broker);
      expect(await roundTrip(conn, 'loopback')).toBe('loopback');
      await conn.close();
    });
  });

  describe('tune-ok negotiation', () => {
    async function tuneOkFails(tuneOk: { frameMax?: number; channelMax?: number }): Promise<{ replyCode: number; replyText: string; classId: number; methodId: number }> {
      const c = await RawClient.connect(broker.port);
      await c.handshake({ ...tuneOk, until: 'tune-ok' });
      return c.expectConnectionClose();
    }

    it('frame_max above the server\'s is 530 NOT_ALLOWED', async () => {
      expect(await tuneOkFails({ frameMax: 200_000 })).toEqual({
        replyCode: 530,
        replyText: 'NOT_ALLOWED - negotiated frame_max = 200000 is higher than the maximum allowed value (131072)',
        classId: 10,
        methodId: 30,
      });
    });

    it('frame_max 0 (no limit) when the server has one is 530', async () => {
      expect((await tuneOkFails({ frameMax: 0 })).replyText).toBe('NOT_ALLOWED - negotiated frame_max = 0 is higher than the maximum allowed value (131072)');
    });

    it('frame_max below 4096 is 530', async () => {
      const close = await tuneOkFails({ frameMax: 1000 });
      expect(close.replyCode).toBe(530);
      expect(close.replyText).toBe('NOT_ALLOWED - negotiated frame_max = 1000 is lower than the minimum allowed value (4096)');
    });

    it('channel_max above the server\'s (or 0) is 530', async () => {
      expect((await tuneOkFails({ channelMax: 3000 })).replyText).toBe('NOT_ALLOWED - negotiated channel_max = 3000 is higher than the maximum allowed value (2047)');
      expect((await tuneOkFails({ channelMax: 0 })).replyText).toBe('NOT_ALLOWED - negotiated channel_max = 0 (no limit) is higher than the maximum allowed value (2047)');
    });

    it('lower values are accepted and then enforced', async () => {
      const c = await RawClient.open(broker.port, { frameMax: 4096, channelMax: 10 });
      await c.openChannel(10);
      // Deliveries are split at the lowered frame_max.
      c.sendMethod(10, { id: MethodId.QueueDeclare, args: { queue: 'tune-low', exclusive: true } });
      await c.waitForMethod(MethodId.QueueDeclareOk, 10);
      const body = Buffer.alloc(10_000, 7);
      c.publish(10, '', 'tune-low', body);
      c.sendMethod(10, { id: MethodId.BasicGet, args: { queue: 'tune-low', noAck: true } });
      await c.waitForMethod(MethodId.BasicGetOk, 10);
      const bodies: Buffer[] = [];
      let got = 0;
      while (got < body.length) {
        const f = await c.waitFor((x) => x.type === Constants.FRAME_BODY && x.channel === 10, 10_000, 'body frame');
        expect(f.payload.length).toBeLessThanOrEqual(4096 - 8);
        bodies.push(f.payload);
        got += f.payload.length;
      }
      expect(Buffer.concat(bodies).equals(body)).toBe(true);
      expect(bodies.length).toBe(3);
      // A channel number above the negotiated channel_max is a connection error.
      c.sendMethod(11, { id: MethodId.ChannelOpen, args: {} });
      const close = await c.expectConnectionClose();
      expect(close.replyCode).toBe(504);
      expect(close.replyText).toMatch(/^CHANNEL_ERROR - /);
    });

    it('amqplib asking for a smaller frame_max works', async () => {
      const conn = await amqp.connect(`${broker.url()}?frameMax=8192`);
      expect(await roundTrip(conn, 'x'.repeat(20_000))).toBe('x'.repeat(20_000));
      await conn.close();
    });
  });

  describe('protocol header', () => {
    for (const [name, header] of [
      ['AMQP 0-8', Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0])],
      ['AMQP 1.0', Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0])],
      ['HTTP', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ] as const) {
      it(`answers a ${name} header with AMQP 0-9-1 and closes`, async () => {
        const c = await RawClient.connect(broker.port);
        c.send(header);
        await c.waitClosed();
        expect(c.received.equals(PROTOCOL_HEADER)).toBe(true);
        expect(c.frames).toHaveLength(0);
      });
    }

    it('accepts a header split across several TCP writes', async () => {
      const c = await RawClient.connect(broker.port);
      await sendInSeparateReads(broker, c, [...PROTOCOL_HEADER].map((byte) => Buffer.from([byte])));
      const start = await c.waitForMethod(MethodId.ConnectionStart, 0);
      expect(start.versionMinor).toBe(9);
      c.destroy();
    });
  });
});
