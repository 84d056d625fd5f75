import { Message } from '../broker/message.js';
import { Session, type SessionSink } from '../broker/session.js';
import type { FlowSource } from '../broker/queue.js';
import { REPLY_TO_QUEUE, type VirtualHost } from '../broker/virtual-host.js';
import {
  AmqpError,
  ClassId,
  Constants,
  DeliverTemplate,
  MethodId,
  PropertyFlag,
  ReplyCode,
  checkContentProperties,
  classIdOf,
  methodError,
  methodIndexOf,
  contentBodySize,
  contentClassId,
  writeBodyFrames,
  writeMethodFrame,
  writeRawHeaderFrame,
  type Method,
  type MethodInit,
} from '../protocol/index.js';
import { AckTimeout } from './ack-timeout.js';
import { PublisherConfirms } from './publisher-confirms.js';
import { DurableReplies } from './durable-replies.js';
import { ChannelAccess, checkTopicWrites } from './channel-access.js';
import type { ChannelHost } from './channel-host.js';
import { consumersOf, type ChannelSnapshot } from './snapshot.js';

/** A basic.publish waiting for its content header and body. */
interface PendingPublish {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
  header: Buffer | null;
  bodySize: number;
  received: number;
  chunks: Buffer[];
}

/**
 * One AMQP channel on a connection: decodes its methods, assembles content
 * (method → header → body frames), turns channel errors into channel.close,
 * and encodes what the model sends back (deliveries, returns, confirms).
 */
export class Channel implements SessionSink {
  readonly session: Session;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private publishing: PendingPublish | null = null;
  /** The last queue declared on this channel: AMQP's "" shortcut for queue names. */
  private lastQueue = '';
  /** Publisher confirms gathered and written in order (confirm.select). */
  private readonly confirms: PublisherConfirms;

  /** basic.deliver frames re-sent from the last one with the tag patched in (see DeliverTemplate). */
  private readonly deliverTemplate = new DeliverTemplate();
  /** consumer_timeout: closes the channel when a delivery stays unacked too long. */
  private readonly ackTimeout: AckTimeout;
  /** Permission checks, memoised for this channel. */
  readonly access: ChannelAccess;
  /** Replies that wait for durability, and the frames held behind them. */
  private readonly input: DurableReplies;

  constructor(private readonly conn: ChannelHost, readonly id: number, readonly vhost: VirtualHost, username: string) {
    this.session = new Session(vhost, conn, this, username);
    this.confirms = new PublisherConfirms(conn, id, () => this.state === 'open');
    this.access = new ChannelAccess(conn.accessControl, username, vhost);
    const channel = { id, isOpen: () => this.state === 'open', reply: (m: MethodInit) => this.reply(m), onFrame: (t: number, p: Buffer) => this.onFrame(t, p) };
    this.input = new DurableReplies(channel, conn, () => this.vhost.durability);
    this.ackTimeout = new AckTimeout(conn.options.consumerTimeout, () => this.session.oldestUnackedAt(), () => this.onAckTimeout(), conn.logger);
  }

  /** Read-only facts for the management API (see snapshot.ts). */
  snapshot(connectionName: string, peerHost: string, peerPort: number): ChannelSnapshot {
    const s = this.session;
    return {
      number: this.id,
      name: `${connectionName} (${this.id})`,
      connectionName,
      peerHost,
      peerPort,
      user: s.username,
      vhost: this.vhost.name,
      state: this.state === 'open' ? 'running' : this.state,
      prefetchCount: s.consumerPrefetch,
      globalPrefetchCount: s.channelPrefetch,
      unacked: s.unackedCount,
      unconfirmed: s.confirmMode ? Math.max(0, s.confirmSeq - this.confirms.confirmedUpTo) : 0,
      confirm: s.confirmMode,
      transactional: s.transactional,
      uncommittedMessages: s.uncommittedMessages,
      uncommittedAcks: s.uncommittedAcks,
      consumers: consumersOf(s),
      messageStats: s.messageStats,
    };
  }

  // ------------------------------------------------------------------ input

  onFrame(type: number, payload: Buffer): void {
    if (this.state === 'closing') {
      // After sending channel.close only close / close-ok matter. A crossing channel.close
      // (the client closed while ours was on the way) is answered with close-ok, and the
      // channel stays closing: the client's close-ok for our close follows, and only then
      // is the number free (as RabbitMQ). Freeing it now would make that close-ok a frame
      // on an unopened channel, a 504 that kills the whole connection.
      if (type === Constants.FRAME_METHOD) {
        const method = this.conn.decode(payload);
        if (method.id === MethodId.ChannelCloseOk) this.finishClose();
        else if (method.id === MethodId.ChannelClose) this.conn.send(this.id, { id: MethodId.ChannelCloseOk, args: {} });
      }
      return;
    }
    if (this.input.waiting) return this.input.hold(type, payload);
    const pending = this.publishing;
    if (type === Constants.FRAME_METHOD) {
      if (pending) throw unexpectedDuringContent(pending);
      const method = this.conn.decode(payload);
      try {
        this.onMethod(method);
      } catch (err) {
        this.fail(err, method.id);
      }
      return;
    }
    if (type === Constants.FRAME_HEADER) {
      if (!pending) throw new AmqpError(ReplyCode.UnexpectedFrame, 'expected method frame, got non method frame instead');
      if (pending.header) throw unexpectedDuringContent(pending);
      this.onContentHeader(pending, payload);
      return;
    }
    // Body frame.
    if (!pending) throw new AmqpError(ReplyCode.UnexpectedFrame, 'expected method frame, got non method frame instead');
    if (!pending.header) throw unexpectedDuringContent(pending);
    pending.received += payload.length;
    if (pending.received > pending.bodySize) {
      throw new AmqpError(ReplyCode.FrameError, 'content body frame exceeds remaining content size');
    }
    if (payload.length > 0) pending.chunks.push(payload);
    if (pending.received === pending.bodySize) this.completePublish(pending);
  }

  private onContentHeader(pending: PendingPublish, payload: Buffer): void {
    const classId = contentClassId(payload);
    if (classId !== ClassId.Basic) throw methodError(ReplyCode.UnexpectedFrame, `expected content header for class ${ClassId.Basic}, got one for class ${classId} instead`, MethodId.BasicPublish);
    const bodySize = contentBodySize(payload);
    pending.header = payload;
    pending.bodySize = bodySize;
    const max = this.conn.options.maxMessageSize;
    if (bodySize > max) {
      this.publishing = null;
      this.closeWithError(methodError(ReplyCode.PreconditionFailed, `message size ${bodySize} is larger than configured max size ${max}`, MethodId.BasicPublish));
      return;
    }
    if (bodySize === 0) this.completePublish(pending);
  }

  private completePublish(p: PendingPublish): void {
    this.publishing = null;
    const body = p.chunks.length === 1 ? p.chunks[0]! : p.chunks.length === 0 ? EMPTY : p.chunks;
    const header = p.header!;
    // Found by fuzzing: a malformed property list used to be stored and relayed to consumers
    // (whose clients cannot parse it), and could throw a RangeError in the raw-header readers
    // (541 via the internal-error path). RabbitMQ decodes every published message's properties
    // (rabbit_channel, basic.publish) and a failure crashes the channel: 541 INTERNAL_ERROR on
    // the connection. Checked here without decoding (no allocation).
    try {
      checkContentProperties(header);
    } catch (err) {
      const detail = err instanceof AmqpError ? err.replyText.replace(/^SYNTAX_ERROR - /, '') : String(err);
      throw new AmqpError(ReplyCode.InternalError, `could not decode the message's content properties: ${detail}`);
    }
    const message = new Message(p.exchange, p.routingKey, header, body, p.bodySize);
    try {
      // user_id, when present, must name the authenticated user unless it is an impersonator (checked without decoding otherwise).
      if (message.hasProperty(PropertyFlag.UserId) && message.properties.userId !== this.session.username && !this.conn.accessControl.hasTag(this.session.username, 'impersonator')) {
        throw new AmqpError(ReplyCode.PreconditionFailed, `user_id property set to '${message.properties.userId}' but authenticated user was '${this.session.username}'`);
      }
      if (this.access.topicChecked(p.exchange)) checkTopicWrites(this.access, p.exchange, p.routingKey, message);
      this.session.publish(p.exchange, p.routingKey, message, p.mandatory);
    } catch (err) {
      this.fail(err, MethodId.BasicPublish);
    }
  }

  /**
   * An error while handling a method (`methodId`, a MethodId): a channel error
   * closes this channel; anything else (a connection error, a bug) goes up to
   * the connection.
   */
  private fail(err: unknown, methodId: number): void {
    if (!(err instanceof AmqpError)) throw err;
    if (err.classId === 0) {
      err.classId = classIdOf(methodId);
      err.methodId = methodIndexOf(methodId);
    }
    if (err.isConnectionError) throw err;
    this.closeWithError(err);
  }

  /** A queue name from a method, with AMQP's "" meaning the last queue declared on the channel. */
  queueName(name: string): string {
    if (name !== '') return name;
    if (this.lastQueue === '') throw new AmqpError(ReplyCode.NotFound, 'no previously declared queue');
    return this.lastQueue;
  }

  private onMethod(method: Method): void {
    const s = this.session;
    const vhost = this.vhost;
    const owner = this.conn;
    this.access.authorize(method, this);
    switch (method.id) {
      case MethodId.BasicPublish: {
        const a = method.args;
        if (a.immediate) throw new AmqpError(ReplyCode.NotImplemented, 'immediate=true');
        this.publishing = { exchange: a.exchange, routingKey: a.routingKey, mandatory: a.mandatory, header: null, bodySize: 0, received: 0, chunks: [] };
        return;
      }
      case MethodId.BasicAck:
        return s.ack(method.args.deliveryTag, method.args.multiple);
      case MethodId.BasicNack:
        return s.reject(method.args.deliveryTag, method.args.multiple, method.args.requeue);
      case MethodId.BasicReject:
        return s.reject(method.args.deliveryTag, false, method.args.requeue);
      case MethodId.BasicQos: {
        const a = method.args;
        if (a.prefetchSize !== 0) throw new AmqpError(ReplyCode.NotImplemented, `prefetch_size!=0 (${a.prefetchSize})`);
        s.qos(a.prefetchCount, a.global);
        return this.reply({ id: MethodId.BasicQosOk, args: {} });
      }
      case MethodId.BasicConsume: {
        const a = method.args;
        const tag = s.consume(this.queueName(a.queue), a.consumerTag, a.noAck, a.exclusive, a.arguments);
        if (!a.nowait) this.reply({ id: MethodId.BasicConsumeOk, args: { consumerTag: tag } });
        s.activate(tag);
        return;
      }
      case MethodId.BasicCancel:
        s.cancel(method.args.consumerTag);
        if (!method.args.nowait) this.reply({ id: MethodId.BasicCancelOk, args: { consumerTag: method.args.consumerTag } });
        return;
      case MethodId.BasicGet: {
        const got = s.get(this.queueName(method.args.queue), method.args.noAck);
        if (!got) return this.reply({ id: MethodId.BasicGetEmpty, args: {} });
        const m = got.message;
        const w = this.conn.out;
        writeMethodFrame(w, this.id, {
          id: MethodId.BasicGetOk,
          args: { deliveryTag: got.deliveryTag, redelivered: got.redelivered, exchange: m.exchange, routingKey: m.routingKey, messageCount: got.messageCount },
        });
        this.writeContent(m);
        if (!method.args.noAck) this.ackTimeout.arm();
        return;
      }
      case MethodId.BasicRecover:
      case MethodId.BasicRecoverAsync:
        if (!method.args.requeue) throw new AmqpError(ReplyCode.NotImplemented, 'requeue=false');
        s.recover();
        if (method.id === MethodId.BasicRecover) this.reply({ id: MethodId.BasicRecoverOk, args: {} });
        return;

      case MethodId.ExchangeDeclare: {
        const a = method.args;
        const changes = vhost.durability.definitionChanges;
        vhost.declareExchange(a.exchange, { type: a.type, passive: a.passive, durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: a.arguments });
        if (!a.nowait) this.input.replyAfterChanges(changes, { id: MethodId.ExchangeDeclareOk, args: {} });
        return;
      }
      case MethodId.ExchangeDelete: {
        const changes = vhost.durability.definitionChanges;
        vhost.deleteExchange(method.args.exchange, method.args.ifUnused);
        if (!method.args.nowait) this.input.replyAfterChanges(changes, { id: MethodId.ExchangeDeleteOk, args: {} });
        return;
      }
      case MethodId.ExchangeBind: {
        const a = method.args;
        const changes = vhost.durability.definitionChanges;
        vhost.bind('exchange', a.destination, a.source, a.routingKey, a.arguments, owner);
        if (!a.nowait) this.input.replyAfterChanges(changes, { id: MethodId.ExchangeBindOk, args: {} });
        return;
      }
      case MethodId.ExchangeUnbind: {
        const a = method.args;
        const changes = vhost.durability.definitionChanges;
        vhost.unbind('exchange', a.destination, a.source, a.routingKey, a.arguments, owner);
        if (!a.nowait) this.input.replyAfterChanges(changes, { id: MethodId.ExchangeUnbindOk, args: {} });
        return;
      }

      case MethodId.QueueDeclare: {
        const a = method.args;
        const name = a.passive ? this.queueName(a.queue) : a.queue;
        if (name.startsWith(REPLY_TO_QUEUE)) {
          // Direct reply-to: every declare of it is passive; it exists with one consumer (RabbitMQ's rabbit_channel).
          if (!vhost.replyQueueExists(name)) throw new AmqpError(ReplyCode.NotFound, `no queue '${name}' in vhost '${vhost.name}'`);
          this.lastQueue = name;
          if (!a.nowait) this.reply({ id: MethodId.QueueDeclareOk, args: { queue: name, messageCount: 0, consumerCount: 1 } });
          return;
        }
        const authorize = (queue: string, creating: boolean): void => this.access.authorizeQueueDeclare(queue, creating, a.arguments);
        const changes = vhost.durability.definitionChanges;
        const q = vhost.declareQueue(name, { passive: a.passive, durable: a.durable, exclusive: a.exclusive, autoDelete: a.autoDelete, arguments: a.arguments, authorize }, owner);
        this.lastQueue = q.name;
        if (!a.nowait) this.input.replyAfterChanges(changes, { id: MethodId.QueueDeclareOk, args: { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount } });
        return;
      }
      case MethodId.QueueBind: {
        const a = method.args;
        const queue = this.queueName(a.queue);
        const key = a.queue === '' && a.routingKey === '' ? queue : a.routingKey;
        const changes = vhost.durability.definitionChanges;
        vhost.bind('queue', queue, a.exchange, key, a.arguments, owner);
        if (!a.nowait) this.input.replyAfterChanges(changes, { id: MethodId.QueueBindOk, args: {} });
        return;
      }
      case MethodId.QueueUnbind: {
        const a = method.args;
        const queue = this.queueName(a.queue);
        const changes = vhost.durability.definitionChanges;
        vhost.unbind('queue', queue, a.exchange, a.routingKey, a.arguments, owner);
        return this.input.replyAfterChanges(changes, { id: MethodId.QueueUnbindOk, args: {} });
      }
      case MethodId.QueuePurge: {
        const count = vhost.purgeQueue(this.queueName(method.args.queue), owner);
        if (!method.args.nowait) this.reply({ id: MethodId.QueuePurgeOk, args: { messageCount: count } });
        return;
      }
      case MethodId.QueueDelete: {
        const a = method.args;
        const changes = vhost.durability.definitionChanges;
        const count = vhost.deleteQueue(this.queueName(a.queue), owner, a.ifUnused, a.ifEmpty);
        if (!a.nowait) this.input.replyAfterChanges(changes, { id: MethodId.QueueDeleteOk, args: { messageCount: count } });
        return;
      }

      case MethodId.ConfirmSelect:
        s.selectConfirm();
        if (!method.args.nowait) this.reply({ id: MethodId.ConfirmSelectOk, args: {} });
        return;
      case MethodId.TxSelect:
        s.selectTx();
        return this.reply({ id: MethodId.TxSelectOk, args: {} });
      case MethodId.TxCommit: {
        // Persistent messages in the transaction must be on disk before commit-ok.
        if (s.commit()) this.input.replyWhenDurable({ id: MethodId.TxCommitOk, args: {} });
        else this.reply({ id: MethodId.TxCommitOk, args: {} });
        return;
      }
      case MethodId.TxRollback:
        s.rollback();
        return this.reply({ id: MethodId.TxRollbackOk, args: {} });

      case MethodId.ChannelClose:
        this.session.close();
        this.conn.send(this.id, { id: MethodId.ChannelCloseOk, args: {} });
        this.finishClose();
        return;
      case MethodId.ChannelCloseOk:
        return; // not closing: nothing to finish
      case MethodId.ChannelFlow:
        // RabbitMQ replaced consumer flow control with basic.qos: only active=true is accepted.
        if (!method.args.active) throw new AmqpError(ReplyCode.NotImplemented, 'active=false');
        return this.reply({ id: MethodId.ChannelFlowOk, args: { active: true } });
      case MethodId.ChannelFlowOk:
        return;
      case MethodId.ChannelOpen:
        throw new AmqpError(ReplyCode.ChannelError, "second 'channel.open' seen");
      case MethodId.AccessRequest:
        return this.reply({ id: MethodId.AccessRequestOk, args: { ticket: 1 } });
      default:
        throw new AmqpError(ReplyCode.CommandInvalid, 'unimplemented method');
    }
  }

  private reply(method: MethodInit): void {
    this.conn.send(this.id, method);
  }

  // ------------------------------------------------------------------ SessionSink: output to the client

  get writable(): boolean {
    return this.state === 'open' && this.conn.writable;
  }

  deliver(consumerTag: string, deliveryTag: number, redelivered: boolean, message: Message): void {
    this.deliverTemplate.write(this.conn.out, this.id, consumerTag, deliveryTag, redelivered, message.exchange, message.routingKey);
    this.writeContent(message);
    if (this.session.unackedCount > 0) this.ackTimeout.arm();
  }

  /** A delivery stayed unacked for consumerTimeout ms: RabbitMQ's 406, and its messages are requeued. */
  private onAckTimeout(): void {
    const ms = this.conn.options.consumerTimeout;
    this.conn.logger.warn({ conn: this.conn.id, channel: this.id, timeout: ms }, `consumer on channel ${this.id} timed out waiting for a delivery acknowledgement (${ms} ms)`);
    this.closeWithError(new AmqpError(ReplyCode.PreconditionFailed, `delivery acknowledgement on channel ${this.id} timed out. Timeout value used: ${ms} ms. This timeout value can be configured, see consumers doc guide to learn more`));
  }

  returnMessage(replyCode: number, replyText: string, message: Message): void {
    writeMethodFrame(this.conn.out, this.id, {
      id: MethodId.BasicReturn,
      args: { replyCode, replyText, exchange: message.exchange, routingKey: message.routingKey },
    });
    this.writeContent(message);
  }

  /** Publish `seq` is confirmed (ok) or refused: sent at the next flush (see PublisherConfirms). */
  confirm(seq: number, ok: boolean): void {
    if (ok) this.session.messageStats.confirm++;
    this.confirms.settle(seq, ok);
  }

  throttle(source: FlowSource): void {
    this.conn.throttle(source);
  }

  consumerCancelled(consumerTag: string): void {
    if (this.state !== 'open') return;
    if (this.conn.hasCapability('consumer_cancel_notify')) {
      this.conn.send(this.id, { id: MethodId.BasicCancel, args: { consumerTag, nowait: true } });
    }
  }

  private writeContent(message: Message): void {
    const w = this.conn.out;
    writeRawHeaderFrame(w, this.id, message.header);
    writeBodyFrames(w, this.id, message.body, this.conn.frameMax);
    this.conn.requestFlush();
  }

  resume(): void {
    if (this.state === 'open') this.session.resume();
  }

  // ------------------------------------------------------------------ read side

  /** Adds to `out` why this channel still has a message in flight (see Broker.whenIdle). */
  describeInFlight(includeUnacked: boolean, out: string[]): void {
    if (this.state !== 'open') return;
    if (this.publishing) out.push(`channel ${this.id}: a message's content is still arriving`);
    if (this.input.waiting) out.push(`channel ${this.id}: a reply waits for a durable write (${this.input.held} frames held)`);
    const unconfirmed = this.session.confirmSequence - this.confirms.firstUnsent + 1;
    if (unconfirmed > 0) out.push(`channel ${this.id}: ${unconfirmed} publishes not yet confirmed`);
    if (includeUnacked && this.session.unackedCount > 0) out.push(`channel ${this.id}: ${this.session.unackedCount} deliveries not yet acknowledged`);
  }

  /** The user's credentials were renewed (connection.update-secret): consumers it may no longer read from are cancelled. */
  recheckConsumers(): void {
    if (this.state !== 'open') return;
    for (const c of [...this.session.consumers.values()]) {
      if (this.access.mayRead(c.queue.name)) continue;
      this.session.cancel(c.tag);
      this.consumerCancelled(c.tag);
    }
  }

  // ------------------------------------------------------------------ closing

  /** A channel error: tell the client, release the session, ignore the channel until close-ok. */
  closeWithError(err: AmqpError): void {
    if (this.state !== 'open') return;
    this.conn.logger.warn({ conn: this.conn.id, channel: this.id, code: err.replyCode, text: err.replyText, classId: err.classId, methodId: err.methodId }, 'channel error');
    this.confirms.writeConfirms();
    this.state = 'closing';
    this.publishing = null;
    this.input.clear();
    this.ackTimeout.cancel();
    this.session.close();
    this.conn.send(this.id, { id: MethodId.ChannelClose, args: { replyCode: err.replyCode, replyText: err.replyText, classId: err.classId, methodId: err.methodId } });
  }

  private finishClose(): void {
    this.state = 'closed';
    this.publishing = null;
    this.input.clear();
    this.ackTimeout.cancel();
    this.conn.channelClosed(this.id);
  }

  /** The connection is going away. */
  connectionClosed(): void {
    this.state = 'closed';
    this.publishing = null;
    this.input.clear();
    this.ackTimeout.cancel();
    this.session.close();
  }
}

const EMPTY = Buffer.alloc(0);

/** RabbitMQ's 505 texts for a frame out of place while a message's content is being assembled. */
function unexpectedDuringContent(pending: PendingPublish): AmqpError {
  return pending.header
    ? methodError(ReplyCode.UnexpectedFrame, 'expected content body, got non content body frame instead', MethodId.BasicPublish)
    : methodError(ReplyCode.UnexpectedFrame, `expected content header for class ${ClassId.Basic}, got non content header frame instead`, MethodId.BasicPublish);
}
