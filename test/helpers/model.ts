/**
 * Helpers for the virtual-host model suites (test/integration/model-*.test.ts):
 * connection bookkeeping, asserting channel/connection errors, draining
 * queues, collecting deliveries, and reaching AMQP methods amqplib's promise
 * API does not expose (tx.*, nowait variants, basic.qos with prefetch_size,
 * basic.recover requeue=false, basic.publish immediate=true) through its
 * channel internals.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Channel, ConsumeMessage, GetMessage, Message, Options } from 'amqplib';
import { expect } from 'vitest';
import type { Broker } from '../../src/index.js';
import { closedWith, connect, eventually, type AmqpConnection } from './broker.js';
import { WAIT_MS } from './wait.js';

export type ClientError = Error & { code?: number; classId?: number; methodId?: number };

const require = createRequire(import.meta.url);
/** amqplib's method ids and encoders (its package exports map hides lib/, so resolve the file). */
const defsPath = path.join(path.dirname(require.resolve('amqplib')), 'lib', 'defs.js');
export const defs = require(defsPath) as Record<string, number>;

function def(name: string): number {
  const id = defs[name];
  if (id === undefined) throw new Error(`amqplib defs has no ${name}`);
  return id;
}

/** The parts of amqplib's channel that are not in its public types. */
interface ChannelInternals {
  rpc(method: number, fields: object, expect: number): Promise<Record<string, unknown>>;
  sendImmediately(method: number, fields: object): void;
  sendMessage(fields: object, properties: object, content: Buffer): boolean;
}

const internals = (ch: Channel): ChannelInternals => ch as unknown as ChannelInternals;

/** Any RPC amqplib can encode, awaiting the given reply method. */
export function rawRpc(ch: Channel, method: string, fields: object, reply: string): Promise<Record<string, unknown>> {
  return internals(ch).rpc(def(method), fields, def(reply));
}

/** Sends a method without waiting for anything (for nowait=true and fire-and-forget methods). */
export function rawSend(ch: Channel, method: string, fields: object): void {
  internals(ch).sendImmediately(def(method), fields);
}

/** basic.publish with explicit method fields (e.g. immediate=true, which amqplib always clears). */
export function rawPublish(ch: Channel, fields: { exchange: string; routingKey: string; mandatory?: boolean; immediate?: boolean }, content: Buffer, properties: object = {}): void {
  internals(ch).sendMessage({ mandatory: false, immediate: false, ...fields }, { headers: {}, ...properties }, content);
}

export const txSelect = (ch: Channel): Promise<unknown> => rawRpc(ch, 'TxSelect', {}, 'TxSelectOk');
export const txCommit = (ch: Channel): Promise<unknown> => rawRpc(ch, 'TxCommit', {}, 'TxCommitOk');
export const txRollback = (ch: Channel): Promise<unknown> => rawRpc(ch, 'TxRollback', {}, 'TxRollbackOk');

/** Rejects after `ms` with a message naming what was awaited. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Connections opened by a test file, all closed by `closeAll()` (afterEach).
 * Every connection and channel gets a no-op 'error' listener: amqplib throws
 * from its frame handler when an 'error' event has no listener, which would
 * turn an expected server-side close into a crash.
 */
export class Clients {
  private readonly open = new Set<AmqpConnection>();

  constructor(private readonly broker: () => Broker) {}

  async connect(): Promise<AmqpConnection> {
    const conn = await connect(this.broker());
    conn.on('error', () => {});
    this.open.add(conn);
    conn.on('close', () => this.open.delete(conn));
    return conn;
  }

  async channel(conn?: AmqpConnection): Promise<Channel> {
    const c = conn ?? (await this.connect());
    const ch = await c.createChannel();
    ch.on('error', () => {});
    return ch;
  }

  async confirmChannel(conn?: AmqpConnection): Promise<import('amqplib').ConfirmChannel> {
    const c = conn ?? (await this.connect());
    const ch = await c.createConfirmChannel();
    ch.on('error', () => {});
    return ch;
  }

  async closeAll(): Promise<void> {
    const conns = [...this.open];
    this.open.clear();
    await Promise.allSettled(conns.map((c) => c.close()));
  }
}

/**
 * Runs `action` and asserts that the channel is then closed by the server
 * with `code` and a reply text containing `text`. When the action is an RPC
 * its rejection must carry the same code.
 */
export async function expectChannelError(ch: Channel, action: () => unknown, code: number, text: string): Promise<ClientError> {
  const closed = closedWith(ch);
  let rejected: ClientError | null = null;
  try {
    await action();
  } catch (err) {
    rejected = err as ClientError;
  }
  const err = await within(closed, WAIT_MS, `channel error ${code}`);
  expect(err.code).toBe(code);
  expect(err.message).toContain(text);
  if (rejected) expect(rejected.code).toBe(code);
  return err;
}

/** Runs `action` and asserts that the server closes the whole connection with `code` and `text`. */
export async function expectConnectionError(conn: AmqpConnection, action: () => unknown, code: number, text: string): Promise<ClientError> {
  const closed = closedWith(conn);
  try {
    await action();
  } catch {
    // the RPC rejects with "channel ended" when the connection goes
  }
  const err = await within(closed, WAIT_MS, `connection error ${code}`);
  expect(err.code).toBe(code);
  expect(err.message).toContain(text);
  return err;
}

/** Takes every ready message with basic.get (no-ack) and returns them in order. */
export async function drain(ch: Channel, queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m);
  }
}

/** The bodies of every ready message, as strings, in queue order. */
export async function drainBodies(ch: Channel, queue: string): Promise<string[]> {
  return (await drain(ch, queue)).map((m) => m.content.toString());
}

export const body = (m: Message): string => m.content.toString();

/** A consumer that records what it receives (null marks a server-side cancel). */
export class Inbox {
  readonly messages: ConsumeMessage[] = [];
  cancelled = false;
  tag = '';
  /** The channel it consumes on (set by consume()). */
  channel: Channel | null = null;

  get bodies(): string[] {
    return this.messages.map(body);
  }

  /** Waits until at least `n` messages arrived. */
  async waitFor(n: number, ms = WAIT_MS): Promise<ConsumeMessage[]> {
    await eventually(() => this.messages.length >= n, ms, `${n} deliveries (have ${this.messages.length})`);
    return this.messages;
  }

  async waitCancelled(ms = WAIT_MS): Promise<void> {
    await eventually(() => this.cancelled, ms, 'server-side cancel');
  }
}

export async function consume(ch: Channel, queue: string, options: Options.Consume = {}, onMessage?: (m: ConsumeMessage, inbox: Inbox) => void): Promise<Inbox> {
  const inbox = new Inbox();
  inbox.channel = ch;
  const ok = await ch.consume(
    queue,
    (m) => {
      if (m === null) {
        inbox.cancelled = true;
        return;
      }
      inbox.messages.push(m);
      onMessage?.(m, inbox);
    },
    options,
  );
  inbox.tag = ok.consumerTag;
  return inbox;
}

/** A fake message carrying only a delivery tag, for acking tags the client never saw. */
export const tagOnly = (deliveryTag: number): Message => ({ fields: { deliveryTag } }) as unknown as Message;

/**
 * A round trip on `ch`: everything sent on the connection before it has been
 * processed by the broker once it resolves (frames are handled in order).
 */
export async function sync(ch: Channel): Promise<void> {
  await ch.checkExchange('amq.direct');
}

/**
 * The barrier for "nothing more arrives": a round trip on every sending
 * channel (everything they sent has been routed and dispatched), then on every
 * inbox's channel (every delivery made so far has been read by the client).
 */
export async function settled(senders: Channel[], inboxes: Inbox[] = []): Promise<void> {
  for (const ch of senders) await sync(ch);
  for (const ch of new Set(inboxes.map((x) => x.channel))) if (ch) await sync(ch);
}

/** Small deterministic PRNG for seeded random tests. */
export { mulberry32 as prng } from './prng.js';
