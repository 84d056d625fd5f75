import { requireMonitor, isMonitor } from './auth.js';
import type { Handler, RequestContext } from './context.js';
import { notFound, HttpError, badRequest } from './errors.js';
import { CHANNEL_STAT_KEYS, messageStatsJson, round } from './format.js';
import { shapeList, type Item } from './list.js';
import { clusterNodeViews } from './cluster-nodes.js';
import type { Router } from './router.js';
import { channelView, connectionView, consumerView } from './views.js';
import { RABBITMQ_COMPATIBLE_VERSION, VERSION } from '../version.js';
import type { ChannelSnapshot, ConnectionSnapshot } from '../server/snapshot.js';

/** The RabbitMQ release whose management API Warren's mirrors (reported as rabbitmq_version): the one it follows everywhere. */
export const RABBITMQ_API_VERSION = RABBITMQ_COMPATIBLE_VERSION;

const reply = (body: unknown) => ({ body });

/** Connections the user may see: monitors see all, others their own (RabbitMQ's filter_user). */
function visibleConnections(ctx: RequestContext): ConnectionSnapshot[] {
  const all = ctx.backend.connectionSnapshots().filter((c) => c.user !== null && c.state !== 'starting');
  return isMonitor(ctx.user) ? all : all.filter((c) => c.user === ctx.user.name);
}

function visibleChannels(ctx: RequestContext): ChannelSnapshot[] {
  return visibleConnections(ctx).flatMap((c) => c.channels);
}

const overview: Handler = (ctx) => {
  const b = ctx.backend;
  const vhosts = ctx.visibleVhosts();
  const totals = ctx.backend.statistics.queueTotals(vhosts);
  const stats = isMonitor(ctx.user) ? b.statistics.overallTotals() : null;
  const connections = visibleConnections(ctx);
  let queues = 0;
  let exchanges = 0;
  let consumers = 0;
  for (const v of vhosts) {
    queues += v.queues.size;
    exchanges += v.exchanges.size;
    for (const q of v.queues.values()) consumers += q.consumers.length;
  }
  const body: Item = {
    management_version: RABBITMQ_API_VERSION,
    rates_mode: 'basic',
    sample_retention_policies: { global: [600, 3600, 28800, 86400], basic: [600, 3600], detailed: [600] },
    exchange_types: ['direct', 'fanout', 'headers', 'topic'].map((name) => ({ name, description: '', enabled: true })),
    product_version: VERSION,
    product_name: 'Warren',
    rabbitmq_version: RABBITMQ_API_VERSION,
    cluster_name: b.clusterName,
    erlang_version: `Node.js ${process.version}`,
    erlang_full_version: `Node.js ${process.version}`,
    release_series_support_status: 'supported',
    disable_stats: false,
    is_op_policy_updating_enabled: true,
    enable_queue_totals: false,
    message_stats: stats ? messageStatsJson(stats, CHANNEL_STAT_KEYS) : {},
    churn_rates: {},
    queue_totals: {
      messages: totals.messages,
      messages_details: { rate: round(totals.messagesRate) },
      messages_ready: totals.messagesReady,
      messages_ready_details: { rate: round(totals.messagesReadyRate) },
      messages_unacknowledged: totals.messagesUnacknowledged,
      messages_unacknowledged_details: { rate: round(totals.messagesUnacknowledgedRate) },
    },
    object_totals: { channels: connections.reduce((n, c) => n + c.channels.length, 0), connections: connections.length, consumers, exchanges, queues },
    statistics_db_event_queue: 0,
    node: b.nodeName,
    listeners: b.listeners().map((l) => ({ node: b.nodeName, protocol: l.protocol, ip_address: l.ipAddress, port: l.port, socket_opts: {} })),
    contexts: b.listeners().filter((l) => l.protocol === 'http').map((l) => ({ node: b.nodeName, description: 'RabbitMQ Management', path: '/', cowboy_opts: '[]', port: String(l.port) })),
  };
  return reply(body);
};

async function nodeView(ctx: RequestContext): Promise<Item> {
  const b = ctx.backend;
  const f = await b.nodeFacts();
  return {
    name: b.nodeName,
    type: 'disc',
    running: true,
    being_drained: false,
    os_pid: String(process.pid),
    mem_used: f.memoryUsed,
    mem_used_details: { rate: 0 },
    mem_limit: f.memoryLimit,
    mem_alarm: f.memoryAlarm,
    mem_calculation_strategy: 'rss',
    disk_free: f.diskFree,
    disk_free_details: { rate: 0 },
    disk_free_limit: f.diskFreeLimit,
    disk_free_alarm: f.diskFreeAlarm,
    fd_used: f.fdUsed,
    fd_total: f.fdTotal,
    sockets_used: f.socketsUsed,
    sockets_total: f.fdTotal,
    proc_used: 1,
    proc_total: 1,
    processors: f.processors,
    uptime: f.uptimeMs,
    run_queue: 0,
    rates_mode: 'basic',
    partitions: [],
    net_ticktime: 60,
    enabled_plugins: ['rabbitmq_management', 'rabbitmq_prometheus'],
    applications: [],
    exchange_types: [],
    auth_mechanisms: [],
    contexts: [],
    log_files: [],
    config_files: [],
    db_dir: b.options.dataDir ?? '',
  };
}

const nodes: Handler = async (ctx) => {
  requireMonitor(ctx.user);
  return reply(shapeList(clusterNodeViews(await nodeView(ctx), ctx.backend.clusterView()), ctx.query, ['name']));
};

const node: Handler = async (ctx) => {
  requireMonitor(ctx.user);
  const found = clusterNodeViews(await nodeView(ctx), ctx.backend.clusterView()).find((n) => n.name === ctx.params.node);
  if (!found) throw notFound();
  return reply(found);
};

const connections: Handler = (ctx) => {
  const node = ctx.backend.nodeName;
  let list = visibleConnections(ctx);
  if (ctx.params.vhost !== undefined) {
    const vhost = ctx.vhost(true).name;
    list = list.filter((c) => c.vhost === vhost);
  }
  return reply(shapeList(list.map((c) => connectionView(c, node, ctx.backend.statistics)), ctx.query));
};

function findConnection(ctx: RequestContext): ConnectionSnapshot {
  const c = ctx.backend.connectionSnapshots().find((x) => x.name === ctx.params.name);
  if (!c || c.user === null) throw notFound();
  // Monitors see every connection; other users only their own (RabbitMQ's is_authorized_user).
  if (!isMonitor(ctx.user) && c.user !== ctx.user.name) throw new HttpError(401, 'not_authorised', 'User not authorised to access object');
  return c;
}

const connection: Handler = (ctx) => reply(connectionView(findConnection(ctx), ctx.backend.nodeName, ctx.backend.statistics));

const connectionChannels: Handler = (ctx) => {
  const c = findConnection(ctx);
  return reply(shapeList(c.channels.map((ch) => channelView(ch, ctx.backend.nodeName)), ctx.query));
};

const deleteConnection: Handler = (ctx) => {
  const c = findConnection(ctx);
  if (!ctx.user.tags.includes('administrator') && c.user !== ctx.user.name) throw new HttpError(401, 'not_authorised', 'User not authorised to access object');
  const header = ctx.req.headers['x-reason'];
  const reason = typeof header === 'string' && header !== '' ? header : 'Closed via management plugin';
  ctx.backend.closeConnection(c.name, reason);
  return { status: 204 };
};

const channels: Handler = (ctx) => {
  let list = visibleChannels(ctx);
  if (ctx.params.vhost !== undefined) {
    const vhost = ctx.vhost(true).name;
    list = list.filter((c) => c.vhost === vhost);
  }
  return reply(shapeList(list.map((ch) => channelView(ch, ctx.backend.nodeName)), ctx.query));
};

const channel: Handler = (ctx) => {
  const ch = visibleChannels(ctx).find((c) => c.name === ctx.params.name);
  if (!ch) throw notFound();
  return reply(channelView(ch, ctx.backend.nodeName));
};

const consumers: Handler = (ctx) => {
  const vhosts = new Set(ctx.vhostsInScope().map((v) => v.name));
  const timeout = ctx.backend.options.consumerTimeout;
  const items: Item[] = [];
  for (const c of ctx.backend.connectionSnapshots()) {
    for (const ch of c.channels) {
      if (!vhosts.has(ch.vhost)) continue;
      for (const consumer of ch.consumers) items.push(consumerView(consumer, ch, ctx.backend.nodeName, timeout));
    }
  }
  return reply(shapeList(items, ctx.query, ['queue.vhost', 'queue.name', 'consumer_tag']));
};

const whoami: Handler = (ctx) => reply({ name: ctx.user.name, tags: [...ctx.user.tags] });

const clusterName: Handler = (ctx) => reply({ name: ctx.backend.clusterName });

/** Health checks answer 200 {"status":"ok"} or 503 {"status":"failed","reason":...} (RabbitMQ's HEALTH_CHECK_FAILURE_STATUS). */
const alarms: Handler = async (ctx) => {
  requireMonitor(ctx.user);
  const f = await ctx.backend.nodeFacts();
  const node = ctx.backend.nodeName;
  const active: Item[] = [];
  if (f.memoryAlarm) active.push({ node, resource: 'memory' });
  if (f.diskFreeAlarm) active.push({ node, resource: 'disk' });
  if (active.length === 0) return reply({ status: 'ok' });
  return { status: 503, body: { status: 'failed', reason: 'resource alarm(s) in effect in the cluster', alarms: active } };
};

const localAlarms: Handler = async (ctx) => {
  requireMonitor(ctx.user);
  const f = await ctx.backend.nodeFacts();
  const active: Item[] = [];
  if (f.memoryAlarm) active.push({ node: ctx.backend.nodeName, resource: 'memory' });
  if (f.diskFreeAlarm) active.push({ node: ctx.backend.nodeName, resource: 'disk' });
  if (active.length === 0) return reply({ status: 'ok' });
  return { status: 503, body: { status: 'failed', reason: 'resource alarm(s) in effect on the node', alarms: active } };
};

const virtualHostsCheck: Handler = (ctx) => {
  requireMonitor(ctx.user);
  // Every vhost of a running Warren is served by the same process: all are up while it runs.
  return reply({ status: 'ok' });
};

const portListener: Handler = (ctx) => {
  requireMonitor(ctx.user);
  const raw = ctx.params.port!;
  if (!/^\d+$/.test(raw)) throw badRequest(`Invalid port: ${raw}`);
  const port = Number(raw);
  const ports = ctx.backend.listeners().map((l) => l.port);
  if (ports.includes(port)) return reply({ status: 'ok', port });
  return { status: 503, body: { status: 'failed', reason: `No active listener on port ${port}`, missing: port, ports } };
};

export function registerOverviewRoutes(r: Router<Handler>): void {
  r.add('GET', '/api/overview', overview)
    .add('GET', '/api/cluster-name', clusterName)
    .add('GET', '/api/nodes', nodes)
    .add('GET', '/api/nodes/:node', node)
    .add('GET', '/api/connections', connections)
    .add('GET', '/api/vhosts/:vhost/connections', connections)
    .add('GET', '/api/connections/:name', connection)
    .add('DELETE', '/api/connections/:name', deleteConnection)
    .add('GET', '/api/connections/:name/channels', connectionChannels)
    .add('GET', '/api/channels', channels)
    .add('GET', '/api/vhosts/:vhost/channels', channels)
    .add('GET', '/api/channels/:name', channel)
    .add('GET', '/api/consumers', consumers)
    .add('GET', '/api/consumers/:vhost', consumers)
    .add('GET', '/api/whoami', whoami)
    .add('GET', '/api/health/checks/alarms', alarms)
    .add('GET', '/api/health/checks/local-alarms', localAlarms)
    .add('GET', '/api/health/checks/virtual-hosts', virtualHostsCheck)
    .add('GET', '/api/health/checks/port-listener/:port', portListener);
}
