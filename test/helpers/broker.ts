import type { Socket } from 'node:net';
import amqp from 'amqplib';
import { Broker, type BrokerOptions, type ConnectionInfo, type QueueInfo } from '../../src/index.js';
import type { Connection } from '../../src/server/connection.js';
import { elapse, WAIT_MS, waitFor } from './wait.js';

/**
 * A memory watermark no test process reaches, whatever the machine's RAM (the
 * default, 0.4 of RAM, would block publishers on a small machine). Tests of
 * the alarm set their own watermark or force it.
 */
export const TEST_MEMORY_WATERMARK = 2 ** 40;

/** Starts an in-process broker on a free port, quiet unless WARREN_TEST_LOG is set. */
export function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  return Broker.start({ port: 0, host: '127.0.0.1', logLevel: (process.env.WARREN_TEST_LOG as BrokerOptions['logLevel']) ?? 'silent', memoryHighWatermark: TEST_MEMORY_WATERMARK, ...options });
}

export type AmqpConnection = Awaited<ReturnType<typeof amqp.connect>>;

export function connect(broker: Broker, options: { user?: string; password?: string; vhost?: string; heartbeat?: number } = {}): Promise<AmqpConnection> {
  const vhost = options.vhost === undefined ? '' : `/${encodeURIComponent(options.vhost)}`;
  const hb = options.heartbeat === undefined ? '' : `?heartbeat=${options.heartbeat}`;
  // Built by hand rather than with broker.url(), which refuses URLs that cannot connect: tests also try those.
  const user = encodeURIComponent(options.user ?? 'guest');
  const password = encodeURIComponent(options.password ?? 'guest');
  return amqp.connect(`amqp://${user}:${password}@127.0.0.1:${broker.port}${vhost}${hb}`);
}

/** Resolves with the error a channel (or connection) closes with. */
export function closedWith(emitter: { once(event: 'error', cb: (err: Error) => void): unknown }): Promise<Error & { code?: number }> {
  return new Promise((resolve) => emitter.once('error', (err) => resolve(err as Error & { code?: number })));
}

/**
 * Lets wall-clock time pass: only where the passing of time is the subject of
 * the test (see `elapse` in wait.ts), never as synchronisation.
 */
export const sleep = elapse;

/** Polls `check` until it returns true; rejects after `ms` (generous by default: the machine is loaded). */
export function eventually(check: () => boolean | Promise<boolean>, ms = WAIT_MS, what = 'condition'): Promise<void> {
  return waitFor(check, { timeout: ms, what });
}

/**
 * A barrier on the broker's event loop: a fresh connection's handshake, a
 * channel and one round trip. Bytes other clients had written before it was
 * called were readable on the broker's sockets before this connection's
 * first request, so anything the broker was going to do with them (while
 * their socket is read) has been done when it resolves.
 */
export async function brokerBarrier(broker: Broker): Promise<void> {
  const conn = await connect(broker);
  try {
    const ch = await conn.createChannel();
    await ch.checkExchange('amq.direct');
  } finally {
    await conn.close();
  }
}

/**
 * The broker's own Connection object for a client, for FAULT INJECTION only
 * (replacing a method to make it throw). This is the one place a test reaches
 * into the broker's private server: to look at a connection, use
 * connectionOf() / broker.connections().
 */
export function serverSideOf(broker: Broker, localPort: number): Connection {
  const found = [...broker['server'].connections].find((c) => c.peer.endsWith(`:${localPort}`));
  if (!found) throw new Error(`no server connection for local port ${localPort}`);
  return found;
}

/** What the broker says now about a queue (broker.queues()): its ready and unacked counts, consumers, arguments. */
export function queueStats(broker: Broker, name: string, vhost = '/'): QueueInfo {
  const found = broker.queues(vhost).find((q) => q.name === name);
  if (!found) throw new Error(`no queue '${name}' in vhost '${vhost}'`);
  return found;
}

/** What the broker says now about a client connection (broker.connections()), found by the client's local port. */
export function connectionOf(broker: Broker, localPort: number): ConnectionInfo {
  const found = broker.connections().find((c) => c.peer.endsWith(`:${localPort}`));
  if (!found) throw new Error(`no server connection for local port ${localPort}`);
  return found;
}

/**
 * Sends each chunk only once the broker has read everything sent before it,
 * so each arrives in a read of its own (what a sleep between writes only
 * makes likely).
 */
export async function sendInSeparateReads(broker: Broker, client: { socket: Socket; send(b: Buffer): void }, chunks: Buffer[]): Promise<void> {
  const read = (): number => broker.connections().find((c) => c.peer.endsWith(`:${client.socket.localPort}`))?.bytesReceived ?? 0;
  let total = 0;
  for (const chunk of chunks) {
    const sent = total;
    await waitFor(() => read() >= sent, { what: `the broker to read ${sent} bytes` });
    client.send(chunk);
    total += chunk.length;
  }
  await waitFor(() => read() >= total, { what: `the broker to read ${total} bytes` });
}
