/**
 * A channel's permission checks, exactly where RabbitMQ 3.13's rabbit_channel
 * makes them (passive declares are not checked), with the decisions it has
 * already allowed memoised: per exchange for basic.publish, per routing key
 * for topic permissions, bounded in size, and forgotten as soon as any user or
 * permission changes (AccessControl.generation).
 */
import type { AccessControl, Permission, ResourceKind } from '../auth/access-control.js';
import { REPLY_TO_QUEUE, type VirtualHost } from '../broker/virtual-host.js';
import { isExchangeType } from '../broker/routing.js';
import { MethodId, type FieldTable, type Method } from '../protocol/index.js';
import type { Message } from '../broker/message.js';

/** Entries a memo keeps before it starts over (a channel usually touches a handful of resources). */
const MEMO_LIMIT = 256;

export class ChannelAccess {
  private generation = -1;
  /** Exchanges this channel may publish to. */
  private readonly writableExchanges = new Set<string>();
  /** Other allowed checks, keyed `permission kind name`. */
  private readonly allowed = new Set<string>();
  /** Per exchange: routing keys allowed for topic write. */
  private readonly topicWrites = new Map<string, Set<string>>();
  /**
   * The exchange of the last allowed publish, at `generation`: a channel
   * usually publishes to one exchange, so the common check is one compare.
   */
  private lastWritable: string | null = null;
  /** The user has some topic permission in this vhost (else no publish needs a topic check). */
  private anyTopicPermissions = false;

  constructor(private readonly access: AccessControl, readonly user: string, readonly vhost: VirtualHost) {}

  /** Forgets everything when permissions changed since the last check. */
  private sync(): void {
    const g = this.access.generation;
    if (g === this.generation) return;
    this.generation = g;
    this.writableExchanges.clear();
    this.allowed.clear();
    this.topicWrites.clear();
    this.lastWritable = null;
    this.anyTopicPermissions = this.access.hasAnyTopicPermissions(this.user, this.vhost.name);
  }

  check(kind: ResourceKind, name: string, permission: Permission): void {
    this.sync();
    const key = `${permission} ${kind} ${name}`;
    if (this.allowed.has(key)) return;
    this.access.checkResource(this.user, this.vhost.name, kind, name, permission);
    if (this.allowed.size >= MEMO_LIMIT) this.allowed.clear();
    this.allowed.add(key);
  }

  /** True (without throwing) when the user may read the queue: for re-checking consumers. */
  mayRead(queue: string): boolean {
    return this.access.resourceAllowed(this.user, this.vhost.name, 'queue', queue, 'read');
  }

  /** basic.publish: write on the exchange (the hot path: one compare when it is the last one allowed, else a Set lookup). */
  checkPublish(exchange: string): void {
    if (exchange === this.lastWritable && this.access.generation === this.generation) return;
    this.sync();
    if (!this.writableExchanges.has(exchange)) {
      this.access.checkResource(this.user, this.vhost.name, 'exchange', exchange, 'write');
      if (this.writableExchanges.size >= MEMO_LIMIT) this.writableExchanges.clear();
      this.writableExchanges.add(exchange);
    }
    this.lastWritable = exchange;
  }

  /** True when publishing to this exchange needs its routing keys checked: a topic exchange the user has topic permissions on. */
  topicChecked(exchange: string): boolean {
    this.sync();
    if (!this.anyTopicPermissions) return false; // the common case: no lookup at all
    const x = this.vhost.findExchange(exchange);
    return x !== undefined && x.type === 'topic' && this.access.hasTopicPermissions(this.user, this.vhost.name, exchange);
  }

  /** Topic write on one routing key (publish, and each CC/BCC key). */
  checkTopicWrite(exchange: string, routingKey: string): void {
    this.sync();
    let keys = this.topicWrites.get(exchange);
    if (keys?.has(routingKey)) return;
    this.access.checkTopic(this.user, this.vhost.name, exchange, routingKey, 'write');
    if (!keys) {
      if (this.topicWrites.size >= MEMO_LIMIT) this.topicWrites.clear();
      this.topicWrites.set(exchange, (keys = new Set()));
    }
    if (keys.size >= MEMO_LIMIT) keys.clear();
    keys.add(routingKey);
  }

  /** Topic read on a binding key, when the source is an existing topic exchange. */
  private checkTopicRead(exchange: string, routingKey: string): void {
    const x = this.vhost.findExchange(exchange);
    if (x && x.type === 'topic') this.access.checkTopic(this.user, this.vhost.name, exchange, routingKey, 'read');
  }

  /**
   * The checks for one method, before it runs. `names.queueName` resolves AMQP's
   * "" (the last queue declared). queue.declare is checked from inside the
   * declare (see authorizeQueueDeclare), where a server-generated name exists.
   */
  authorize(method: Method, names: { queueName(name: string): string }): void {
    switch (method.id) {
      case MethodId.BasicPublish:
        return this.checkPublish(method.args.exchange);
      case MethodId.BasicConsume:
        if (method.args.queue === REPLY_TO_QUEUE) return; // direct reply-to: no queue to check
        return this.check('queue', names.queueName(method.args.queue), 'read');
      case MethodId.BasicGet:
        return this.check('queue', names.queueName(method.args.queue), 'read');
      case MethodId.QueuePurge:
        return this.check('queue', names.queueName(method.args.queue), 'read');
      case MethodId.QueueDelete:
        return this.check('queue', names.queueName(method.args.queue), 'configure');
      case MethodId.ExchangeDeclare: {
        const a = method.args;
        // Unknown types, the default exchange and reserved names fail in the model with their own errors.
        if (a.passive || a.exchange === '' || !isExchangeType(a.type)) return;
        this.check('exchange', a.exchange, 'configure');
        if (this.vhost.findExchange(a.exchange) || a.exchange.startsWith('amq.')) return;
        const ae = a.arguments['alternate-exchange'];
        if (typeof ae === 'string') {
          this.check('exchange', a.exchange, 'read');
          this.check('exchange', ae, 'write');
        }
        return;
      }
      case MethodId.ExchangeDelete: {
        const name = method.args.exchange;
        if (name === '' || name.startsWith('amq.')) return;
        return this.check('exchange', name, 'configure');
      }
      case MethodId.ExchangeBind:
      case MethodId.ExchangeUnbind: {
        const a = method.args;
        this.check('exchange', a.destination, 'write');
        if (a.source === '' || a.destination === '') return; // 403 on the default exchange, from the model
        this.check('exchange', a.source, 'read');
        return this.checkTopicRead(a.source, a.routingKey);
      }
      case MethodId.QueueBind:
      case MethodId.QueueUnbind: {
        const a = method.args;
        const queue = names.queueName(a.queue);
        this.check('queue', queue, 'write');
        if (a.exchange === '') return;
        this.check('exchange', a.exchange, 'read');
        const key = method.id === MethodId.QueueBind && a.queue === '' && a.routingKey === '' ? queue : a.routingKey;
        return this.checkTopicRead(a.exchange, key);
      }
      default:
    }
  }

  /**
   * queue.declare (not passive), called by the model once the name is known:
   * configure on the queue; creating it with a dead-letter exchange also
   * needs read on the queue and write on the DLX.
   */
  authorizeQueueDeclare(name: string, creating: boolean, args: FieldTable): void {
    this.check('queue', name, 'configure');
    if (!creating) return;
    const dlx = args['x-dead-letter-exchange'];
    if (typeof dlx === 'string') {
      this.check('queue', name, 'read');
      this.check('exchange', dlx, 'write');
    }
  }
}

/** Topic write permission on the routing key and every CC/BCC key (RabbitMQ checks all of a message's routing keys). */
export function checkTopicWrites(access: ChannelAccess, exchange: string, routingKey: string, message: Message): void {
  access.checkTopicWrite(exchange, routingKey);
  const headers = message.properties.headers;
  if (!headers) return;
  for (const name of ['CC', 'BCC']) {
    const keys = headers[name];
    if (!Array.isArray(keys)) continue;
    for (const k of keys) if (typeof k === 'string') access.checkTopicWrite(exchange, k);
  }
}
