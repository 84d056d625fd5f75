import amqp from 'amqplib';
import { Broker, type BrokerOptions } from '../../src/index.js';

/** Starts an in-process broker on a free port, quiet unless WARREN_TEST_LOG is set. */
export function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  return Broker.start({ port: 0, host: '127.0.0.1', logLevel: (process.env.WARREN_TEST_LOG as BrokerOptions['logLevel']) ?? 'silent', ...options });
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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(5);
  }
  throw new Error(`timed out waiting for ${what}`);
}
