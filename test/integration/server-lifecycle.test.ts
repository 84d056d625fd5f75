/**
 * Broker lifecycle and resource limits: embedding several brokers in one
 * process, maxConnections, handshakeTimeout, graceful shutdown (320
 * CONNECTION_FORCED), the batched write path, and the pino log lines for
 * connections.
 */
import { Socket, connect as netConnect } from 'node:net';
import { Writable } from 'node:stream';
import amqp from 'amqplib';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { closeEvent, roundTrip } from '../helpers/amqp-checks.js';
import { brokerBarrier, connect, eventually, startBroker } from '../helpers/broker.js';
import { RawClient, methodFrame } from '../helpers/raw-client.js';

/** How late a due timer may fire on a loaded machine before the test calls it a bug. */
const LATE_MS = 5000;

const SHUTDOWN_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'";

describe('embedding', () => {
  it('Broker.start({ port: 0 }) twice gives two independent working brokers', async () => {
    const a = await Broker.start({ port: 0, host: '127.0.0.1', logLevel: 'silent' });
    const b = await Broker.start({ port: 0, host: '127.0.0.1', logLevel: 'silent' });
    try {
      expect(a.port).toBeGreaterThan(0);
      expect(b.port).toBeGreaterThan(0);
      expect(a.port).not.toBe(b.port);
      const ca = await connect(a);
      const cb = await connect(b);
      // Same queue name in both: they do not share state.
      const cha = await ca.createChannel();
      const chb = await cb.createChannel();
      await cha.assertQueue('shared-name');
      await chb.assertQueue('shared-name');
      cha.sendToQueue('shared-name', Buffer.from('only in a'));
      await eventually(async () => (await cha.checkQueue('shared-name')).messageCount === 1, 10_000, 'message in a');
      expect((await chb.checkQueue('shared-name')).messageCount).toBe(0);
      expect(a.connectionCount).toBe(1);
      expect(b.connectionCount).toBe(1);
      // Stopping one leaves the other running.
      const closedA = closeEvent(ca);
      await a.stop();
      expect((await closedA)?.message).toContain('320');
      expect(await roundTrip(cb, 'b lives')).toBe('b lives');
      await cb.close();
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('reports the bound address and an amqp URL', async () => {
    const broker = await startBroker();
    try {
      expect(broker.host).toBe('127.0.0.1');
      broker.addUser('u s', 'p@ss');
      broker.setPermissions('u s', '/', { configure: '.*', write: '.*', read: '.*' });
      expect(broker.url('u s', 'p@ss')).toBe(`amqp://u%20s:p%40ss@127.0.0.1:${broker.port}`);
      // A URL the broker would refuse is an error, not a string.
      expect(() => broker.url('nobody', 'pw')).toThrow(/user 'nobody' has permissions on none of the vhosts/);
    } finally {
      await broker.stop();
    }
  });

  it('rejects invalid options', async () => {
    await expect(Broker.start({ port: 0, frameMax: 1000, logLevel: 'silent' })).rejects.toThrow(/frameMax 1000/);
    await expect(Broker.start({ port: 70000, logLevel: 'silent' })).rejects.toThrow(/port 70000/);
  });
});

describe('maxConnections', () => {
  it('refuses connections beyond the limit and accepts again once one closes', async () => {
    const broker = await startBroker({ maxConnections: 2 });
    try {
      const one = await connect(broker);
      const two = await connect(broker);
      // Refused at accept: the socket is closed before any byte is sent.
      await expect(connect(broker)).rejects.toThrow('Socket closed abruptly during opening handshake');
      const raw = await RawClient.connect(broker.port);
      await raw.waitClosed();
      expect(raw.received.length).toBe(0);
      expect(broker.connectionCount).toBe(2);
      // The two admitted connections are unaffected.
      expect(await roundTrip(one)).toMatch(/^ping-/);
      expect(await roundTrip(two)).toMatch(/^ping-/);
      await one.close();
      await eventually(() => broker.connectionCount === 1, 10_000, 'slot freed');
      const three = await connect(broker);
      expect(await roundTrip(three, 'third')).toBe('third');
      await Promise.all([two.close(), three.close()]);
    } finally {
      await broker.stop();
    }
  });
});

describe('handshakeTimeout', () => {
  it('closes a socket that sends nothing, and one that stalls mid-handshake; open connections stay', async () => {
    // Long enough for the complete and the partial handshakes below to get where
    // they are meant to stop before it runs out, on a loaded machine too.
    const handshakeTimeout = 1500;
    const broker = await startBroker({ handshakeTimeout });
    try {
      const openConn = await connect(broker);
      const t0 = Date.now();
      const silent = await RawClient.connect(broker.port);
      const stalled = await RawClient.connect(broker.port);
      await stalled.handshake({ until: 'start' }); // header sent, start received, no start-ok
      const tuning = await RawClient.connect(broker.port);
      await tuning.handshake({ until: 'start-ok' }); // authenticated, never sends tune-ok
      await Promise.all([silent.waitClosed(), stalled.waitClosed(), tuning.waitClosed()]);
      for (const c of [silent, stalled, tuning]) {
        expect(c.closedAt - t0).toBeGreaterThanOrEqual(handshakeTimeout - 50);
        // When due, not at some much later sweep (generous: the machine is loaded).
        expect(c.closedAt - t0).toBeLessThan(handshakeTimeout + LATE_MS);
        // A plain close, as RabbitMQ: no connection.close for a handshake timeout.
        expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionClose);
      }
      expect(silent.received.length).toBe(0);
      // Opened before the others, so its (passed) handshake deadline was due first.
      expect(await roundTrip(openConn, 'past the timeout')).toBe('past the timeout');
      // The broker forgets a closed socket on its own 'close' event, which may come after the client's.
      await eventually(() => broker.connectionCount === 1, 10_000, 'the timed-out sockets forgotten');
      await openConn.close();
    } finally {
      await broker.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('stop() sends every open connection 320 CONNECTION_FORCED and resolves once they close', async () => {
    // Long enough that waiting it out could not pass for a prompt close on a loaded machine.
    const closeTimeout = 12_000;
    const broker = await startBroker({ closeTimeout });
    const a = await connect(broker);
    const b = await connect(broker);
    await a.createChannel();
    const raw = await RawClient.open(broker.port);
    await raw.openChannel(1);
    const closedA = closeEvent(a);
    const closedB = closeEvent(b);
    // amqplib treats 320 as non-fatal: no 'error', only 'close' carrying the error.
    const errors: Error[] = [];
    a.on('error', (e: Error) => errors.push(e));
    const rawClose = raw.expectConnectionClose();

    const t0 = Date.now();
    await broker.stop();
    const took = Date.now() - t0;

    const errA = await closedA;
    expect(errA?.message).toBe(`Connection closed: 320 (CONNECTION-FORCED) with message "${SHUTDOWN_TEXT}"`);
    expect(errA?.code).toBe(320);
    expect((await closedB)?.code).toBe(320);
    expect(errors).toEqual([]);
    expect(await rawClose).toEqual({ replyCode: 320, replyText: SHUTDOWN_TEXT, classId: 0, methodId: 0 });
    // Everyone answered close-ok promptly, so stop did not wait out closeTimeout.
    expect(took).toBeLessThan(closeTimeout);
    expect(broker.connectionCount).toBe(0);
    // The listener is gone.
    await expect(new Promise((resolve, reject) => {
      const s = netConnect({ port: broker.port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve('connected'); });
      s.once('error', reject);
    })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a client that never answers close-ok delays stop() by at most ~closeTimeout; half-open handshakes are dropped', async () => {
    const broker = await startBroker({ closeTimeout: 300 });
    const mute = await RawClient.open(broker.port);
    // Swallow the server's close without replying.
    const handshaking = await RawClient.connect(broker.port);
    handshaking.sendProtocolHeader();
    await handshaking.waitForMethod(MethodId.ConnectionStart, 0);
    const t0 = Date.now();
    await broker.stop();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(300 + LATE_MS);
    await mute.waitClosed();
    await handshaking.waitClosed();
    expect(mute.methods.find((m) => m.id === MethodId.ConnectionClose)?.args).toMatchObject({ replyCode: 320 });
    expect(handshaking.methods.map((m) => m.id)).toEqual([MethodId.ConnectionStart]);
  });

  it('stop() is idempotent', async () => {
    const broker = await startBroker();
    const first = broker.stop();
    expect(broker.stop()).toBe(first);
    await first;
  });
});

/**
 * Calls `spy(socket)` before every write the broker makes on its side of the
 * client whose local port is `clientPort` (the server socket's remote port),
 * watched from outside: a spy on net.Socket's write, removed by the returned
 * function.
 */
function onServerWrite(clientPort: number, spy: (socket: Socket) => void): () => void {
  const original = Socket.prototype.write;
  const write = vi.spyOn(Socket.prototype, 'write').mockImplementation(function (this: Socket, ...args: unknown[]) {
    if (this.remotePort === clientPort && this.remoteAddress !== undefined) spy(this);
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  });
  return () => write.mockRestore();
}

describe('write path', () => {
  it('frames produced in one tick go out in one socket write', async () => {
    const broker = await startBroker();
    try {
      const c = await RawClient.open(broker.port);
      let writes = 0;
      const restore = onServerWrite(c.socket.localPort!, () => writes++);
      try {
        const N = 50;
        c.send(Buffer.concat(Array.from({ length: N }, (_, i) => methodFrame(i + 1, { id: MethodId.ChannelOpen, args: {} }))));
        await eventually(() => c.methods.filter((m) => m.id === MethodId.ChannelOpenOk).length === N, 10_000, `${N} open-oks`);
        expect(writes).toBeGreaterThanOrEqual(1);
        expect(writes).toBeLessThanOrEqual(2);
      } finally {
        restore();
      }
      await c.close();
    } finally {
      await broker.stop();
    }
  });

  it('after connection.close nothing but close-ok is written, and nothing at all once the socket is gone', async () => {
    const broker = await startBroker();
    let restore: (() => void) | undefined;
    try {
      const c = await RawClient.open(broker.port);
      let afterClose = 0;
      let writesSeen = 0;
      restore = onServerWrite(c.socket.localPort!, (socket) => {
        writesSeen++;
        if (socket.destroyed || socket.closed) afterClose++;
      });
      // close, then more work in the same chunk: only close-ok comes back.
      c.send(Buffer.concat([
        methodFrame(0, { id: MethodId.ConnectionClose, args: { replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 } }),
        methodFrame(1, { id: MethodId.ChannelOpen, args: {} }),
        methodFrame(0, { id: MethodId.ConnectionOpen, args: { virtualHost: '/' } }),
      ]));
      await c.waitForMethod(MethodId.ConnectionCloseOk, 0);
      c.socket.end(); // the receiver of close-ok closes the socket
      await c.waitClosed();
      const after = c.frames.slice(c.frames.findIndex((f) => f.method?.id === MethodId.ConnectionOpenOk) + 1);
      expect(after.map((f) => f.method?.id)).toEqual([MethodId.ConnectionCloseOk]);
      // Give any stray flush a chance to misbehave: another client's round trips take many ticks.
      // (That a closed connection's write queue writes nothing, even when asked, is test/unit/outbound.test.ts.)
      await eventually(() => broker.connectionCount === 0, 10_000, 'the connection forgotten');
      await brokerBarrier(broker);
      expect(writesSeen).toBeGreaterThanOrEqual(1); // close-ok
      expect(afterClose).toBe(0);
    } finally {
      restore?.();
      await broker.stop();
    }
  });
});

describe('logging', () => {
  it('logs the listening line, and each connection opened and closed with peer, user, vhost and reply code', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    const broker = await Broker.start({ port: 0, host: '127.0.0.1', logger: pino({ level: 'info' }, sink) });
    try {
      expect(lines.find((l) => l.msg === 'Warren listening')).toMatchObject({ port: broker.port, host: '127.0.0.1' });
      const conn = await amqp.connect(broker.url());
      const local = `127.0.0.1:${(conn.connection as unknown as { stream: { localPort: number } }).stream.localPort}`;
      await conn.close();
      await eventually(() => lines.some((l) => l.msg === 'connection closed' && l.peer === local), 10_000, 'close logged');
      expect(lines.find((l) => l.msg === 'connection opened' && l.peer === local)).toMatchObject({ user: 'guest', vhost: '/' });
      expect(lines.find((l) => l.msg === 'connection closed' && l.peer === local)).toMatchObject({ user: 'guest', vhost: '/', code: 200 });

      // A connection error is logged with its code.
      const bad = await RawClient.open(broker.port);
      bad.sendMethod(3, { id: MethodId.BasicQos, args: {} });
      await bad.expectConnectionClose();
      await eventually(() => lines.some((l) => l.msg === 'connection closed' && l.code === 504), 10_000, 'error close logged');
    } finally {
      await broker.stop();
    }
  });
});
