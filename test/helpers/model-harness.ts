/**
 * A socket-free harness for the virtual-host model (src/broker/): a fake sink
 * stands in for the server's Channel and records everything a Session tells
 * it (deliveries, returns, confirms, consumer cancels, throttling), and a
 * FakeChannel drives the Session the way the server's Channel does (consume
 * then activate, a channel error closes the session). No socket, no codec,
 * no timers but the model's own, so tests can use vitest's fake clock.
 */
import { expect } from 'vitest';
import { Message } from '../../src/broker/message.js';
import type { FlowSource, Owner, Queue } from '../../src/broker/queue.js';
import { Session, type GetResult, type SessionSink } from '../../src/broker/session.js';
import { VirtualHost } from '../../src/broker/virtual-host.js';
import { AmqpError, encodeContentHeader, type BasicProperties, type FieldTable } from '../../src/protocol/index.js';

/** One basic.deliver the session asked for. */
export interface Delivered {
  consumerTag: string;
  deliveryTag: number;
  redelivered: boolean;
  message: Message;
  body: string;
}

/** One basic.return (an unroutable mandatory publish). */
export interface Returned {
  replyCode: number;
  replyText: string;
  routingKey: string;
  body: string;
}

/** One publisher confirm: basic.ack (ok) or basic.nack. */
export interface Confirmed {
  seq: number;
  ok: boolean;
}

/** Stands in for the server's Channel: records what the session sends, in order. */
export class FakeSink implements SessionSink {
  /** Set false to play a client whose socket is backed up (then call `session.resume()`). */
  writable = true;
  readonly deliveries: Delivered[] = [];
  readonly returns: Returned[] = [];
  readonly confirms: Confirmed[] = [];
  /** Consumer tags the broker cancelled (basic.cancel from the server). */
  readonly cancelled: string[] = [];
  /** Flow sources the publisher was told to wait on. */
  readonly throttledBy: FlowSource[] = [];

  deliver(consumerTag: string, deliveryTag: number, redelivered: boolean, message: Message): void {
    this.deliveries.push({ consumerTag, deliveryTag, redelivered, message, body: bodyText(message) });
  }

  returnMessage(replyCode: number, replyText: string, message: Message): void {
    this.returns.push({ replyCode, replyText, routingKey: message.routingKey, body: bodyText(message) });
  }

  confirm(seq: number, ok: boolean): void {
    this.confirms.push({ seq, ok });
  }

  consumerCancelled(consumerTag: string): void {
    this.cancelled.push(consumerTag);
  }

  throttle(source: FlowSource): void {
    this.throttledBy.push(source);
  }

  /** Bodies delivered so far (to one consumer when a tag is given), in delivery order. */
  bodies(consumerTag?: string): string[] {
    return this.deliveries.filter((d) => consumerTag === undefined || d.consumerTag === consumerTag).map((d) => d.body);
  }

  /** The delivery of `body` (the last one, when it was delivered more than once). */
  deliveryOf(body: string): Delivered {
    const d = [...this.deliveries].reverse().find((x) => x.body === body);
    if (!d) throw new Error(`no delivery of '${body}' (have ${JSON.stringify(this.bodies())})`);
    return d;
  }
}

/** A message body as text (the harness publishes text bodies). */
export function bodyText(message: Message): string {
  return Array.isArray(message.body) ? Buffer.concat(message.body).toString() : message.body.toString();
}

/** A complete message as the server's Channel hands it to the model: header bytes and body. */
export function message(body: string, properties: BasicProperties = {}, exchange = '', routingKey = ''): Message {
  const bytes = Buffer.from(body);
  return new Message(exchange, routingKey, encodeContentHeader(bytes.length, properties), bytes, bytes.length);
}

let nextOwnerId = 1;

export interface QueueOptions {
  durable?: boolean;
  exclusive?: boolean;
  autoDelete?: boolean;
}

export interface PublishOptions {
  mandatory?: boolean;
  properties?: BasicProperties;
}

export interface ConsumeOptions {
  tag?: string;
  noAck?: boolean;
  exclusive?: boolean;
  arguments?: FieldTable;
}

/**
 * One client channel on one connection: a Session over a FakeSink, called
 * as the server's Channel calls it. Requests that fail throw the AmqpError
 * the Channel would turn into channel.close; `failing()` asserts one and
 * closes the session as the Channel does.
 */
export class FakeChannel {
  readonly sink = new FakeSink();
  readonly session: Session;

  constructor(
    readonly vhost: VirtualHost,
    /** The connection (exclusive queues belong to it). */
    readonly owner: Owner = { id: nextOwnerId++ },
    username = 'guest',
  ) {
    this.session = new Session(vhost, owner, this.sink, username);
  }

  declareQueue(name: string, args: FieldTable = {}, options: QueueOptions = {}): Queue {
    return this.vhost.declareQueue(name, { passive: false, durable: options.durable ?? false, exclusive: options.exclusive ?? false, autoDelete: options.autoDelete ?? false, arguments: args }, this.owner);
  }

  declareExchange(name: string, type: string, args: FieldTable = {}): void {
    this.vhost.declareExchange(name, { type, passive: false, durable: false, autoDelete: false, internal: false, arguments: args });
  }

  bindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable = {}): void {
    this.vhost.bind('queue', queue, exchange, routingKey, args, this.owner);
  }

  publish(exchange: string, routingKey: string, body: string, options: PublishOptions = {}): void {
    this.session.publish(exchange, routingKey, message(body, options.properties, exchange, routingKey), options.mandatory ?? false);
  }

  /** basic.consume followed by consume-ok and activation, as the Channel does; returns the tag. */
  consume(queue: string, options: ConsumeOptions = {}): string {
    const tag = this.session.consume(queue, options.tag ?? '', options.noAck ?? false, options.exclusive ?? false, options.arguments ?? {});
    this.session.activate(tag);
    return tag;
  }

  get(queue: string, noAck = false): GetResult | null {
    return this.session.get(queue, noAck);
  }

  /** basic.get until empty: the bodies in queue order. */
  drain(queue: string): string[] {
    const out: string[] = [];
    for (let got = this.get(queue, true); got; got = this.get(queue, true)) out.push(bodyText(got.message));
    return out;
  }

  ack(deliveryTag: number, multiple = false): void {
    this.session.ack(deliveryTag, multiple);
  }

  nack(deliveryTag: number, multiple = false, requeue = true): void {
    this.session.reject(deliveryTag, multiple, requeue);
  }

  reject(deliveryTag: number, requeue: boolean): void {
    this.session.reject(deliveryTag, false, requeue);
  }

  qos(prefetchCount: number, global = false): void {
    this.session.qos(prefetchCount, global);
  }

  /** The channel (or its connection) closed. */
  close(): void {
    this.session.close();
  }

  /**
   * Runs a request that must fail with a channel error `code` whose reply
   * text contains `text`; the session is then closed, as the server's
   * Channel closes the channel. Returns the error.
   */
  failing(request: () => unknown, code: number, text: string): AmqpError {
    let caught: unknown = null;
    try {
      request();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AmqpError);
    const err = caught as AmqpError;
    expect(err.replyCode).toBe(code);
    expect(err.replyText).toContain(text);
    this.session.close();
    return err;
  }
}

/** A fresh virtual host with its standard exchanges (in memory: no journal, no message log). */
export function newVhost(name = '/'): VirtualHost {
  return new VirtualHost(name);
}

/** The queue's counts, from its read side. */
export function counts(queue: Queue): { ready: number; unacked: number; consumers: number } {
  const s = queue.stats();
  return { ready: s.messagesReady, unacked: s.messagesUnacknowledged, consumers: s.consumers };
}
