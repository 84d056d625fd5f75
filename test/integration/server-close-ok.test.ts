/**
 * connection.close-ok is never lost. As RabbitMQ: after close-ok the socket
 * is left to the client (the spec has the peer that receives close-ok close
 * it); a repeated connection.close — several threads of one client closing
 * at once — gets close-ok again; everything queued before is flushed first;
 * the socket ends when the client closes it, on the linger timeout, or at
 * broker stop, always with FIN (never a reset).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { eventually, startBroker } from '../helpers/broker.js';
import { RawClient, methodFrame } from '../helpers/raw-client.js';

const close = (text: string): Buffer => methodFrame(0, { id: MethodId.ConnectionClose, args: { replyCode: 200, replyText: text, classId: 0, methodId: 0 } });

/** Records how the server ended the socket: FIN ('end') or an error such as ECONNRESET. */
function watchEnd(c: RawClient): { fin: boolean; error: string | null } {
  const seen = { fin: false, error: null as string | null };
  c.socket.on('end', () => { seen.fin = true; });
  c.socket.on('error', (err: NodeJS.ErrnoException) => { seen.error = err.code ?? err.message; });
  return seen;
}

describe('connection.close-ok', () => {
  let broker: Broker;
  beforeAll(async () => { broker = await startBroker(); });
  afterAll(async () => { await broker.stop(); });

  it('three connection.close frames in one write get three close-oks, after every earlier reply, and the socket is left to the client (300 rounds)', async () => {
    const ROUNDS = 300;
    for (let i = 0; i < ROUNDS; i++) {
      const c = await RawClient.open(broker.port);
      const seen = watchEnd(c);
      const queue = `close-ok-${i}`;
      c.send(Buffer.concat([
        methodFrame(1, { id: MethodId.ChannelOpen, args: {} }),
        methodFrame(1, { id: MethodId.QueueDeclare, args: { queue, exclusive: true } }),
        close('goroutine 1'),
        close('goroutine 2'),
        close('goroutine 3'),
      ]));
      await eventually(() => c.methods.filter((m) => m.id === MethodId.ConnectionCloseOk).length === 3 || c.closed, 10_000, `round ${i}: three close-oks`);
      const after = c.frames.slice(c.frames.findIndex((f) => f.method?.id === MethodId.ConnectionOpenOk) + 1).map((f) => `${f.channel}:${f.method?.id}`);
      expect(after, `round ${i}: ${c.describeFrames()}`).toEqual([
        `1:${MethodId.ChannelOpenOk}`,
        `1:${MethodId.QueueDeclareOk}`,
        `0:${MethodId.ConnectionCloseOk}`,
        `0:${MethodId.ConnectionCloseOk}`,
        `0:${MethodId.ConnectionCloseOk}`,
      ]);
      // The server did not end the socket: it is the client's to close.
      expect(seen.fin, `round ${i}`).toBe(false);
      c.socket.end();
      await c.waitClosed(10_000);
      expect(seen, `round ${i}`).toEqual({ fin: true, error: null });
    }
    // Everything the connections held was released at close-ok.
    await eventually(() => broker.connectionCount === 0, 10_000, 'no connections left');
  }, 120_000);

  it('a client that keeps the socket after close-ok gets FIN when the linger time (its heartbeat timeout, here 1 s) is over', async () => {
    const c = await RawClient.open(broker.port, { heartbeat: 1 });
    const seen = watchEnd(c);
    // Taken before the close: the linger starts when the broker answers it, however late
    // this client reads the close-ok on a loaded machine.
    const at = Date.now();
    c.send(close('bye'));
    await c.waitForMethod(MethodId.ConnectionCloseOk, 0, 10_000);
    await eventually(() => broker.connectionCount === 0, 10_000, 'connection released at close-ok');
    await eventually(() => seen.fin, 10_000, 'FIN from the server');
    const waited = Date.now() - at;
    expect(waited).toBeGreaterThanOrEqual(1000 - 5); // the 1 s linger (timers run on a coarse monotonic clock)
    expect(waited).toBeLessThan(8000);
    expect(seen.error).toBeNull();
    c.socket.end();
    await c.waitClosed(10_000);
  });

  it('broker stop ends a socket left open after close-ok at once, with FIN', async () => {
    const other = await startBroker();
    const c = await RawClient.open(other.port);
    const seen = watchEnd(c);
    c.send(close('bye'));
    await c.waitForMethod(MethodId.ConnectionCloseOk, 0, 10_000);
    const at = Date.now();
    const stopped = other.stop();
    await eventually(() => seen.fin, 10_000, 'FIN at broker stop');
    expect(Date.now() - at).toBeLessThan(5000); // not the 30 s linger
    expect(seen.error).toBeNull();
    c.socket.end();
    await stopped;
  });
});
