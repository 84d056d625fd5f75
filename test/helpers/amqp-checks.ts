/** Small amqplib checks shared by the server-layer tests. */
import type { ConsumeMessage } from 'amqplib';
import type { AmqpConnection } from './broker.js';
import { WAIT_MS } from './wait.js';

let counter = 0;

/**
 * Proves a connection still works end to end: opens a channel, declares an
 * exclusive queue, publishes a message to it, consumes it back and returns
 * its body. Rejects (instead of hanging) after `timeout` ms.
 */
export async function roundTrip(conn: AmqpConnection, text = `ping-${++counter}`, timeout = WAIT_MS): Promise<string> {
  const ch = await conn.createChannel();
  const q = await ch.assertQueue('', { exclusive: true });
  const got = new Promise<ConsumeMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no delivery within ${timeout} ms`)), timeout);
    void ch.consume(q.queue, (m) => {
      if (!m) return;
      clearTimeout(timer);
      resolve(m);
    }, { noAck: true });
  });
  ch.sendToQueue(q.queue, Buffer.from(text));
  const msg = await got;
  await ch.close();
  return msg.content.toString();
}

/** Resolves with the error a connection's 'close' event carries (undefined for a clean close). */
export function closeEvent(conn: AmqpConnection): Promise<(Error & { code?: number }) | undefined> {
  return new Promise((resolve) => conn.once('close', (err?: Error) => resolve(err as (Error & { code?: number }) | undefined)));
}
