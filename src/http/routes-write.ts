import type { Handler, RequestContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { fieldTableToJson, jsonToFieldTable } from './format.js';
import { API_OWNER, buildMessage, getMessages, propertiesFromJson, type AckMode } from './messages.js';
import type { Router } from './router.js';
import { exchangeName, findExchange, findQueue } from './routes-objects.js';
import { bindingView, propertiesKey } from './views.js';
import type { Binding } from '../broker/exchange.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import type { JsonObject } from './body.js';
import { AmqpError, ReplyCode, type FieldTable } from '../protocol/index.js';
import { CONTROL_SOCKET_USER } from './control-socket.js';

/**
 * Write routes for exchanges, queues, bindings and messages. Each calls the
 * same model command an AMQP channel would (declare, delete, bind, purge,
 * route, get), so the rules and error texts are the model's.
 */

function bool(body: JsonObject, key: string, fallback: boolean): boolean {
  const v = body[key];
  if (v === undefined) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw badRequest(`${key} must be a boolean`);
}

function str(body: JsonObject, key: string, fallback: string): string {
  const v = body[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string') throw badRequest(`${key} must be a string`);
  return v;
}

function args(body: JsonObject, key = 'arguments'): FieldTable {
  const table = jsonToFieldTable(body[key]);
  if (!table) throw badRequest(`${key} must be an object`);
  return table;
}

const putExchange: Handler = async (ctx) => {
  const vhost = ctx.vhost();
  const body = await ctx.json();
  const name = exchangeName(ctx.params.name!);
  const existed = vhost.exchanges.has(name);
  ctx.allow(vhost, 'exchange', name, 'configure');
  const d = { type: str(body, 'type', 'direct'), passive: false, durable: bool(body, 'durable', false), autoDelete: bool(body, 'auto_delete', false), internal: bool(body, 'internal', false), arguments: args(body) };
  // As exchange.declare (ChannelAccess): creating one with an alternate exchange needs read on it and write on the AE.
  const ae = d.arguments['alternate-exchange'];
  if (!existed && !name.startsWith('amq.') && typeof ae === 'string') {
    ctx.allow(vhost, 'exchange', name, 'read');
    ctx.allow(vhost, 'exchange', ae, 'write');
  }
  ctx.command(() => vhost.declareExchange(name, d));
  return { status: existed ? 204 : 201 };
};

const deleteExchange: Handler = (ctx) => {
  const vhost = ctx.vhost();
  const x = findExchange(ctx);
  ctx.allow(vhost, 'exchange', x.name, 'configure');
  ctx.command(() => vhost.deleteExchange(x.name, ctx.flag('if-unused')));
  return { status: 204 };
};

const putQueue: Handler = async (ctx) => {
  const vhost = ctx.vhost();
  const body = await ctx.json();
  const name = ctx.params.name!;
  const existed = vhost.queues.has(name);
  ctx.allow(vhost, 'queue', name, 'configure');
  const d = { passive: false, durable: bool(body, 'durable', false), exclusive: false, autoDelete: bool(body, 'auto_delete', false), arguments: args(body) };
  // As queue.declare (ChannelAccess): creating one with a dead-letter exchange needs read on it and write on the DLX.
  const dlx = d.arguments['x-dead-letter-exchange'];
  if (!existed && typeof dlx === 'string') {
    ctx.allow(vhost, 'queue', name, 'read');
    ctx.allow(vhost, 'exchange', dlx, 'write');
  }
  ctx.command(() => vhost.declareQueue(name, d, API_OWNER));
  return { status: existed ? 204 : 201 };
};

const deleteQueue: Handler = (ctx) => {
  const vhost = ctx.vhost();
  const q = findQueue(ctx);
  ctx.allow(vhost, 'queue', q.name, 'configure');
  ctx.command(() => vhost.deleteQueue(q.name, API_OWNER, ctx.flag('if-unused'), ctx.flag('if-empty')));
  return { status: 204 };
};

const purgeQueue: Handler = (ctx) => {
  const vhost = ctx.vhost();
  const q = findQueue(ctx);
  ctx.allow(vhost, 'queue', q.name, 'read');
  ctx.command(() => vhost.purgeQueue(q.name, API_OWNER));
  return { status: 204 };
};

function destinationKind(segment: string): 'queue' | 'exchange' {
  if (segment === 'q') return 'queue';
  if (segment === 'e') return 'exchange';
  throw notFound();
}

/** The two ends of a binding route, each checked to exist (404 otherwise). */
function bindingEnds(ctx: RequestContext): { kind: 'queue' | 'exchange'; source: string; destination: string } {
  const kind = destinationKind(ctx.params.dtype!);
  const source = findExchange(ctx, ctx.params.source!).name;
  const destination = kind === 'queue' ? findQueue(ctx, ctx.params.destination!).name : findExchange(ctx, ctx.params.destination!).name;
  return { kind, source, destination };
}

const listBindingsBetween: Handler = (ctx) => {
  const vhost = ctx.vhost();
  const { kind, source, destination } = bindingEnds(ctx);
  const items = [...vhost.allBindings()]
    .filter((b) => b.source.name === source && b.destination.kind === kind && b.destination.name === destination)
    .map((b) => bindingView(b, vhost.name));
  return { body: items };
};

const postBinding: Handler = async (ctx) => {
  const vhost = ctx.vhost();
  const body = await ctx.json();
  const { kind, source, destination } = bindingEnds(ctx);
  const routingKey = str(body, 'routing_key', '');
  const a = args(body);
  ctx.allow(vhost, kind, destination, 'write');
  ctx.allow(vhost, 'exchange', source, 'read');
  checkTopicRead(ctx, vhost, source, routingKey);
  ctx.command(() => vhost.bind(kind, destination, source, routingKey, a, API_OWNER));
  const key = propertiesKey(routingKey, fieldTableToJson(a));
  const path = `/api/bindings/${encodeURIComponent(vhost.name)}/e/${encodeURIComponent(ctx.params.source!)}/${ctx.params.dtype!}/${encodeURIComponent(ctx.params.destination!)}/${key}`;
  return { status: 201, headers: { location: path } };
};

function findBinding(ctx: RequestContext): { vhost: VirtualHost; b: Binding } {
  const vhost = ctx.vhost();
  const { kind, source, destination } = bindingEnds(ctx);
  for (const b of vhost.allBindings()) {
    if (b.source.name !== source || b.destination.kind !== kind || b.destination.name !== destination) continue;
    if (bindingView(b, vhost.name).properties_key === ctx.params.props) return { vhost, b };
  }
  throw notFound();
}

const getBinding: Handler = (ctx) => {
  const { vhost, b } = findBinding(ctx);
  return { body: bindingView(b, vhost.name) };
};

const deleteBinding: Handler = (ctx) => {
  const { vhost, b } = findBinding(ctx);
  ctx.vhost();
  ctx.allow(vhost, b.destination.kind, b.destination.name, 'write');
  ctx.allow(vhost, 'exchange', b.source.name, 'read');
  checkTopicRead(ctx, vhost, b.source.name, b.routingKey);
  ctx.command(() => vhost.unbind(b.destination.kind, b.destination.name, b.source.name, b.routingKey, b.arguments, API_OWNER));
  return { status: 204 };
};

const publish: Handler = async (ctx) => {
  const vhost = ctx.vhost();
  const x = findExchange(ctx);
  const body = await ctx.json();
  const routingKey = body.routing_key;
  const payload = body.payload;
  const encoding = body.payload_encoding;
  if (typeof routingKey !== 'string' || typeof payload !== 'string' || (encoding !== 'string' && encoding !== 'base64')) {
    throw badRequest('[{key_missing,routing_key},{key_missing,payload},{key_missing,payload_encoding}] or of the wrong type');
  }
  const bytes = encoding === 'base64' ? Buffer.from(payload, 'base64') : Buffer.from(payload, 'utf8');
  const properties = propertiesFromJson(body.properties);
  ctx.allow(vhost, 'exchange', x.name, 'write');
  checkUserId(ctx, properties.userId);
  if (x.type === 'topic') {
    // As basic.publish: topic write on the routing key and on every CC/BCC key.
    const keys = [routingKey, ...ccKeys(properties.headers, 'CC'), ...ccKeys(properties.headers, 'BCC')];
    ctx.command(() => { for (const k of keys) ctx.backend.access.checkTopic(ctx.user.name, vhost.name, x.name, k, 'write'); });
  }
  const routed = ctx.command(() => {
    const target = vhost.exchangeForPublish(x.name);
    return vhost.route(target, routingKey, buildMessage(x.name, routingKey, properties, bytes)).routed;
  });
  return { body: { routed: routed > 0 } };
};

/** As queue.bind / exchange.bind (and unbind): topic read on the binding key when the source is a topic exchange. */
function checkTopicRead(ctx: RequestContext, vhost: VirtualHost, source: string, routingKey: string): void {
  if (vhost.exchanges.get(source)?.type !== 'topic') return;
  ctx.command(() => ctx.backend.access.checkTopic(ctx.user.name, vhost.name, source, routingKey, 'read'));
}

/** As basic.publish: a user_id property must name the user, unless the user is tagged impersonator (406 otherwise). */
function checkUserId(ctx: RequestContext, userId: string | undefined): void {
  if (userId === undefined || userId === ctx.user.name || ctx.user === CONTROL_SOCKET_USER || ctx.backend.access.hasTag(ctx.user.name, 'impersonator')) return;
  ctx.command(() => {
    throw new AmqpError(ReplyCode.PreconditionFailed, `user_id property set to '${userId}' but authenticated user was '${ctx.user.name}'`);
  });
}

/** The string keys of a CC or BCC header (sender-selected distribution). */
function ccKeys(headers: FieldTable | undefined, name: 'CC' | 'BCC'): string[] {
  const keys = headers?.[name];
  return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
}

const ACK_MODES = new Set<AckMode>(['ack_requeue_true', 'ack_requeue_false', 'reject_requeue_true', 'reject_requeue_false']);

const getFromQueue: Handler = async (ctx) => {
  const vhost = ctx.vhost();
  const q = findQueue(ctx);
  const body = await ctx.json();
  const count = body.count;
  const ackmode = body.ackmode;
  const encoding = body.encoding;
  const truncate = body.truncate;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) throw badRequest('count must be a positive integer');
  if (typeof ackmode !== 'string' || !ACK_MODES.has(ackmode as AckMode)) throw badRequest(`Unknown ackmode: ${String(ackmode)}`);
  if (encoding !== 'auto' && encoding !== 'base64') throw badRequest(`Unknown encoding: ${String(encoding)}`);
  ctx.allow(vhost, 'queue', q.name, 'read');
  if (truncate !== undefined && truncate !== null && (typeof truncate !== 'number' || !Number.isInteger(truncate) || truncate < 0)) throw badRequest('truncate must be a non-negative integer');
  const items = ctx.command(() =>
    getMessages(vhost, q.name, ctx.user.name, { count, ackmode: ackmode as AckMode, encoding, truncate: typeof truncate === 'number' ? truncate : null }),
  );
  return { body: items };
};

/** RabbitMQ's aliveness test: declare a queue, publish to it, get the message back. */
const aliveness: Handler = (ctx) => {
  const vhost = ctx.vhost();
  // RabbitMQ runs it on a channel as the user: the same checks as declare, publish and get.
  ctx.allow(vhost, 'queue', 'aliveness-test', 'configure');
  ctx.allow(vhost, 'exchange', '', 'write');
  ctx.allow(vhost, 'queue', 'aliveness-test', 'read');
  ctx.command(() => {
    vhost.declareQueue('aliveness-test', { passive: false, durable: false, exclusive: false, autoDelete: false, arguments: {} }, API_OWNER);
    vhost.route(vhost.exchangeForPublish(''), 'aliveness-test', buildMessage('', 'aliveness-test', {}, Buffer.from('test_message')));
    const got = getMessages(vhost, 'aliveness-test', ctx.user.name, { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto', truncate: null });
    if (got.length !== 1 || got[0]!.payload !== 'test_message') throw new Error('aliveness test message not received');
  });
  return { body: { status: 'ok' } };
};

export function registerWriteRoutes(r: Router<Handler>): void {
  r.add('PUT', '/api/exchanges/:vhost/:name', putExchange)
    .add('DELETE', '/api/exchanges/:vhost/:name', deleteExchange)
    .add('POST', '/api/exchanges/:vhost/:name/publish', publish)
    .add('PUT', '/api/queues/:vhost/:name', putQueue)
    .add('DELETE', '/api/queues/:vhost/:name', deleteQueue)
    .add('DELETE', '/api/queues/:vhost/:name/contents', purgeQueue)
    .add('POST', '/api/queues/:vhost/:name/get', getFromQueue)
    .add('GET', '/api/bindings/:vhost/e/:source/:dtype/:destination', listBindingsBetween)
    .add('POST', '/api/bindings/:vhost/e/:source/:dtype/:destination', postBinding)
    .add('GET', '/api/bindings/:vhost/e/:source/:dtype/:destination/:props', getBinding)
    .add('DELETE', '/api/bindings/:vhost/e/:source/:dtype/:destination/:props', deleteBinding)
    .add('GET', '/api/aliveness-test/:vhost', aliveness);
}
