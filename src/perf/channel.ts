/**
 * One channel of the load generator's client (client.ts): synchronous calls
 * awaiting their replies, the consumer's delivery handler, and
 * publisher-confirm bookkeeping. It talks to its connection through
 * ChannelConnection, so this file does not import the client.
 */
import { Constants, MethodId, type FieldTable, type Method, type MethodInit } from '../protocol/index.js';

/** The decoded arguments of the method with id `I`. */
export type ArgsOf<I extends Method['id']> = Extract<Method, { id: I }> extends { args: infer A } ? A : never;

/** What a channel needs from its connection (AmqpClient). */
export interface ChannelConnection {
  /** How long a synchronous call waits for its reply (ms). */
  readonly rpcTimeout: number;
  sendMethod(channel: number, method: MethodInit): void;
  /** The channel closed (err null: by the client): forget it. */
  channelGone(ch: PerfChannel, err: Error | null): void;
}

/** @internal a synchronous call waiting for its reply. */
export interface Waiter {
  expect: number;
  resolve(args: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Called for every delivery: the delivery tag and the first body frame's payload (null for an empty body). */
export type DeliveryHandler = (tag: number, body: Buffer | null) => void;

/**
 * Publisher-confirm bookkeeping: the broker acks by sequence number, singly or
 * `multiple` (everything up to the tag), possibly out of order.
 */
export class ConfirmTracker {
  /** Sequence numbers handed out (= messages published on the channel since confirm.select). */
  published = 0;
  confirmed = 0;
  nacked = 0;
  /** Every sequence number ≤ this is settled. */
  private settledUpTo = 0;
  /** Settled sequence numbers above settledUpTo (out-of-order single acks). */
  private readonly singles = new Set<number>();

  get outstanding(): number {
    return this.published - this.confirmed - this.nacked;
  }

  settle(tag: number, multiple: boolean, nack: boolean): void {
    let n = 0;
    if (multiple) {
      if (tag <= this.settledUpTo) return;
      n = tag - this.settledUpTo;
      if (this.singles.size > 0) {
        for (const s of this.singles) {
          if (s <= tag) {
            this.singles.delete(s);
            n--;
          }
        }
      }
      this.settledUpTo = tag;
    } else {
      if (tag <= this.settledUpTo || this.singles.has(tag)) return;
      n = 1;
      if (tag === this.settledUpTo + 1) this.settledUpTo = tag;
      else this.singles.add(tag);
    }
    while (this.singles.size > 0 && this.singles.delete(this.settledUpTo + 1)) this.settledUpTo++;
    if (nack) this.nacked += n;
    else this.confirmed += n;
  }
}

export class PerfChannel {
  closed = false;
  closeError: Error | null = null;
  /** The consumer's handler (one consumer per channel in this tool). */
  onDelivery: DeliveryHandler | null = null;
  /** Set by confirmSelect. */
  confirms: ConfirmTracker | null = null;
  /** Called after confirms arrive (a publisher waiting for window room). */
  onConfirm: (() => void) | null = null;
  /** Called when the broker cancels the consumer or closes the channel. */
  onStop: ((why: string) => void) | null = null;
  /** Deliveries seen on this channel. */
  delivered = 0;

  /** @internal content assembly */
  kind = 0;
  /** @internal */
  tag = 0;
  /** @internal */
  bodyLeft = 0;
  /** @internal */
  firstChunk: Buffer | null = null;
  /** @internal */
  readonly waiters: Waiter[] = [];

  constructor(readonly client: ChannelConnection, readonly id: number) {}

  /** @internal the content of a deliver/return/get-ok is complete. */
  completeContent(): void {
    const kind = this.kind;
    this.kind = 0;
    if (kind === 1) {
      this.delivered++;
      const h = this.onDelivery;
      if (h !== null) h(this.tag, this.firstChunk);
    }
    this.firstChunk = null;
  }

  /** Sends a synchronous method and resolves with the reply's arguments. */
  call<I extends Method['id']>(method: MethodInit, expect: I): Promise<ArgsOf<I>> {
    if (this.closed) return Promise.reject(this.closeError ?? new Error(`channel ${this.id} is closed`));
    return new Promise<ArgsOf<I>>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`timed out after ${this.client.rpcTimeout} ms waiting for the reply to method 0x${method.id.toString(16)} on channel ${this.id}`));
      }, this.client.rpcTimeout);
      const waiter: Waiter = { expect, resolve: resolve as (a: unknown) => void, reject, timer };
      this.waiters.push(waiter);
      this.client.sendMethod(this.id, method);
    });
  }

  send(method: MethodInit): void {
    if (!this.closed) this.client.sendMethod(this.id, method);
  }

  declareQueue(queue: string, o: { durable?: boolean; exclusive?: boolean; autoDelete?: boolean; passive?: boolean; arguments?: FieldTable } = {}): Promise<ArgsOf<typeof MethodId.QueueDeclareOk>> {
    return this.call({ id: MethodId.QueueDeclare, args: { queue, durable: o.durable ?? false, exclusive: o.exclusive ?? false, autoDelete: o.autoDelete ?? false, passive: o.passive ?? false, arguments: o.arguments ?? {} } }, MethodId.QueueDeclareOk);
  }

  async declareExchange(exchange: string, type: string, o: { durable?: boolean; autoDelete?: boolean } = {}): Promise<void> {
    await this.call({ id: MethodId.ExchangeDeclare, args: { exchange, type, durable: o.durable ?? false, autoDelete: o.autoDelete ?? false, arguments: {} } }, MethodId.ExchangeDeclareOk);
  }

  async bindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    await this.call({ id: MethodId.QueueBind, args: { queue, exchange, routingKey, arguments: {} } }, MethodId.QueueBindOk);
  }

  /**
   * Many bindings without a round trip each: sent with nowait in batches,
   * each batch closed by one synchronous bind whose -ok proves the batch was
   * applied (methods on a channel are handled in order).
   */
  async bindMany(bindings: ReadonlyArray<{ queue: string; exchange: string; routingKey: string }>, batch = 500): Promise<void> {
    for (let i = 0; i < bindings.length; i += batch) {
      const part = bindings.slice(i, i + batch);
      const last = part.length - 1;
      for (let j = 0; j < last; j++) {
        const b = part[j]!;
        this.send({ id: MethodId.QueueBind, args: { queue: b.queue, exchange: b.exchange, routingKey: b.routingKey, nowait: true, arguments: {} } });
      }
      const b = part[last]!;
      await this.bindQueue(b.queue, b.exchange, b.routingKey);
    }
  }

  deleteQueue(queue: string): Promise<ArgsOf<typeof MethodId.QueueDeleteOk>> {
    return this.call({ id: MethodId.QueueDelete, args: { queue } }, MethodId.QueueDeleteOk);
  }

  async deleteExchange(exchange: string): Promise<void> {
    await this.call({ id: MethodId.ExchangeDelete, args: { exchange } }, MethodId.ExchangeDeleteOk);
  }

  async qos(prefetchCount: number): Promise<void> {
    await this.call({ id: MethodId.BasicQos, args: { prefetchCount, prefetchSize: 0, global: false } }, MethodId.BasicQosOk);
  }

  async confirmSelect(): Promise<ConfirmTracker> {
    await this.call({ id: MethodId.ConfirmSelect, args: {} }, MethodId.ConfirmSelectOk);
    this.confirms = new ConfirmTracker();
    return this.confirms;
  }

  /** Starts a consumer; deliveries go to `handler`. Resolves with the consumer tag. */
  async consume(queue: string, o: { noAck: boolean; exclusive?: boolean }, handler: DeliveryHandler): Promise<string> {
    this.onDelivery = handler;
    const ok = await this.call({ id: MethodId.BasicConsume, args: { queue, noAck: o.noAck, exclusive: o.exclusive ?? false, arguments: {} } }, MethodId.BasicConsumeOk);
    return ok.consumerTag;
  }

  async cancel(consumerTag: string): Promise<void> {
    await this.call({ id: MethodId.BasicCancel, args: { consumerTag } }, MethodId.BasicCancelOk);
  }

  /** basic.ack (encoded into the connection's control buffer, flushed after the current read). */
  ack(tag: number, multiple: boolean): void {
    if (!this.closed) this.client.sendMethod(this.id, { id: MethodId.BasicAck, args: { deliveryTag: tag, multiple } });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.call({ id: MethodId.ChannelClose, args: { replyCode: Constants.REPLY_SUCCESS, replyText: 'bye', classId: 0, methodId: 0 } }, MethodId.ChannelCloseOk);
    this.client.channelGone(this, null);
  }

  /** @internal */
  failAll(err: Error): void {
    this.closed = true;
    this.closeError ??= err;
    const w = this.waiters.splice(0);
    for (const x of w) {
      clearTimeout(x.timer);
      x.reject(err);
    }
    this.onStop?.(err.message);
  }

  /** @internal resolves the oldest waiter expecting `id`; false when nobody waits for it. */
  resolveWaiter(id: number, args: unknown): boolean {
    const w = this.waiters;
    for (let i = 0; i < w.length; i++) {
      const x = w[i]!;
      if (x.expect === id) {
        w.splice(i, 1);
        clearTimeout(x.timer);
        x.resolve(args);
        return true;
      }
    }
    return false;
  }
}
