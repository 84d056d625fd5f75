import { AuthError, type PermissionRecord, type UserRecord } from '../auth/access-control.js';
import { isHashingAlgorithm, isWellFormedHash, DEFAULT_HASHING_ALGORITHM } from '../auth/password.js';
import { PatternError } from '../auth/patterns.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import { requireAdmin } from './auth.js';
import type { JsonObject } from './body.js';
import type { Handler, RequestContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { CHANNEL_STAT_KEYS, messageStatsJson, round } from './format.js';
import { shapeList, type Item } from './list.js';
import type { Router } from './router.js';

/** Vhosts, users, permissions and topic permissions: read by monitors/administrators, changed by administrators. */

function vhostView(ctx: RequestContext, v: VirtualHost): Item {
  const b = ctx.backend;
  const totals = b.statistics.queueTotals([v]);
  const stats = b.statistics.vhostTotals(v);
  const meta = b.listVhosts().find((x) => x.name === v.name) ?? { description: '', tags: [] };
  let recv = 0;
  let send = 0;
  for (const c of b.connectionSnapshots()) {
    if (c.vhost !== v.name) continue;
    recv += c.recvOct;
    send += c.sendOct;
  }
  const item: Item = {
    name: v.name,
    description: meta.description,
    tags: [...meta.tags],
    default_queue_type: 'classic',
    metadata: { description: meta.description, tags: [...meta.tags], default_queue_type: 'classic' },
    tracing: false,
    cluster_state: { [b.nodeName]: 'running' },
    messages: totals.messages,
    messages_details: { rate: round(totals.messagesRate) },
    messages_ready: totals.messagesReady,
    messages_ready_details: { rate: round(totals.messagesReadyRate) },
    messages_unacknowledged: totals.messagesUnacknowledged,
    messages_unacknowledged_details: { rate: round(totals.messagesUnacknowledgedRate) },
    recv_oct: recv,
    send_oct: send,
  };
  if (stats.active) item.message_stats = messageStatsJson(stats, CHANNEL_STAT_KEYS);
  return item;
}

const vhosts: Handler = (ctx) => ({ body: shapeList(ctx.visibleVhosts().map((v) => vhostView(ctx, v)), ctx.query, ['name']) });

const vhost: Handler = (ctx) => ({ body: vhostView(ctx, ctx.vhost(true, ctx.params.name)) });

/** RabbitMQ's tags field: a comma-separated string or an array of strings. */
function tagsOf(body: JsonObject): string[] | undefined {
  const t = body.tags;
  if (t === undefined || t === null) return undefined;
  if (typeof t === 'string') return t.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(t) && t.every((x) => typeof x === 'string')) return (t as string[]).map((s) => s.trim()).filter(Boolean);
  throw badRequest('tags must be a string or a list of strings');
}

const putVhost: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  const name = ctx.params.name!;
  const body = await ctx.json();
  const description = body.description === undefined ? '' : body.description;
  if (typeof description !== 'string') throw badRequest('description must be a string');
  const existed = ctx.backend.vhosts.has(name);
  if (!existed) ctx.backend.createVhost(name, { description, tags: tagsOf(body) ?? [] });
  return { status: existed ? 204 : 201 };
};

const deleteVhost: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  if (!(await ctx.backend.deleteVhost(ctx.params.name!))) throw notFound();
  return { status: 204 };
};

function userView(ctx: RequestContext, u: UserRecord): Item {
  return { name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm, tags: [...u.tags], limits: { ...ctx.backend.settings.userLimits.get(u.name) } };
}

const users: Handler = (ctx) => {
  requireAdmin(ctx.user);
  return { body: shapeList(ctx.backend.access.listUsers().map((u) => userView(ctx, u)), ctx.query, ['name']) };
};

/** The user named in the path, or a 404. */
export function findUser(ctx: RequestContext, name = ctx.params.name!): UserRecord {
  const u = ctx.backend.access.user(name);
  if (!u) throw notFound();
  return u;
}

const user: Handler = (ctx) => {
  requireAdmin(ctx.user);
  return { body: userView(ctx, findUser(ctx)) };
};

/**
 * PUT /api/users/{name}: `password` (hashed here), or `password_hash` with
 * `hashing_algorithm` (RabbitMQ's format), and `tags`. Without either, a new
 * user has no password (it cannot log in with one) and an existing one keeps
 * its own.
 */
const putUser: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  const name = ctx.params.name!;
  const body = await ctx.json();
  const access = ctx.backend.access;
  const existing = access.user(name);
  const tags = tagsOf(body) ?? (existing ? [...existing.tags] : []);
  const { password, password_hash: hash, hashing_algorithm: algorithm } = body;
  if (password !== undefined) {
    if (typeof password !== 'string') throw badRequest('password must be a string');
    access.addUser(name, password, tags);
  } else if (hash !== undefined) {
    const alg = algorithm ?? DEFAULT_HASHING_ALGORITHM;
    if (!isHashingAlgorithm(alg)) throw badRequest(`Unknown hashing algorithm: ${String(alg)}`);
    if (typeof hash !== 'string' || (hash !== '' && !isWellFormedHash(hash, alg))) throw badRequest('password_hash is not a valid hash for its hashing_algorithm');
    access.putUser({ name, passwordHash: hash, hashingAlgorithm: alg, tags });
  } else if (existing) access.setTags(name, tags);
  else access.addUser(name, null, tags);
  return { status: existing ? 204 : 201 };
};

const deleteUser: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  if (!(await ctx.backend.deleteUser(ctx.params.name!))) throw notFound();
  return { status: 204 };
};

const permissionView = (p: PermissionRecord): Item => ({ user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read });

const permissions: Handler = (ctx) => {
  requireAdmin(ctx.user);
  return { body: shapeList(ctx.backend.access.listPermissions().map(permissionView), ctx.query, ['vhost', 'user']) };
};

const vhostPermissions: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const v = ctx.vhost(false).name;
  return { body: shapeList(ctx.backend.access.listPermissions().filter((p) => p.vhost === v).map(permissionView), ctx.query, ['vhost', 'user']) };
};

const userPermissions: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const u = findUser(ctx);
  return { body: shapeList(ctx.backend.access.listPermissions().filter((p) => p.user === u.name).map(permissionView), ctx.query, ['vhost', 'user']) };
};

const permission: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const v = ctx.vhost(false).name;
  const p = ctx.backend.access.permission(findUser(ctx, ctx.params.user).name, v);
  if (!p) throw notFound();
  return { body: permissionView(p) };
};

function pattern(body: JsonObject, key: string): string {
  const v = body[key];
  if (typeof v !== 'string') throw badRequest(`[{key_missing,${key}}]`);
  return v;
}

/** Runs an access-control change; a malformed pattern or a missing user is a 400. */
function change(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof PatternError || err instanceof AuthError) throw badRequest(err.message);
    throw err;
  }
}

const putPermission: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  const v = ctx.vhost(false).name;
  const u = findUser(ctx, ctx.params.user);
  const body = await ctx.json();
  const p = { configure: pattern(body, 'configure'), write: pattern(body, 'write'), read: pattern(body, 'read') };
  const existed = ctx.backend.access.permission(u.name, v) !== undefined;
  change(() => ctx.backend.setPermissions(u.name, v, p));
  return { status: existed ? 204 : 201 };
};

const deletePermission: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const v = ctx.vhost(false).name;
  const u = findUser(ctx, ctx.params.user);
  if (!ctx.backend.access.permission(u.name, v)) throw notFound();
  ctx.backend.clearPermissions(u.name, v);
  return { status: 204 };
};

const topicPermissions: Handler = (ctx) => {
  requireAdmin(ctx.user);
  let list = ctx.backend.access.listTopicPermissions();
  if (ctx.params.vhost !== undefined) {
    const v = ctx.vhost(false).name;
    list = list.filter((t) => t.vhost === v);
  }
  if (ctx.params.user !== undefined) {
    const u = findUser(ctx, ctx.params.user).name;
    list = list.filter((t) => t.user === u);
  }
  return { body: shapeList(list.map((t) => ({ user: t.user, vhost: t.vhost, exchange: t.exchange, write: t.write, read: t.read })), ctx.query, ['vhost', 'user']) };
};

const putTopicPermission: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  const v = ctx.vhost(false).name;
  const u = findUser(ctx, ctx.params.user).name;
  const body = await ctx.json();
  const exchange = pattern(body, 'exchange');
  const existed = ctx.backend.access.hasTopicPermissions(u, v, exchange);
  change(() => ctx.backend.setTopicPermissions(u, v, exchange, { write: pattern(body, 'write'), read: pattern(body, 'read') }));
  return { status: existed ? 204 : 201 };
};

const deleteTopicPermission: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const v = ctx.vhost(false).name;
  const u = findUser(ctx, ctx.params.user).name;
  const own = ctx.backend.access.listTopicPermissions().filter((t) => t.user === u && t.vhost === v);
  if (own.length === 0) throw notFound();
  for (const t of own) ctx.backend.clearTopicPermissions(u, v, t.exchange);
  return { status: 204 };
};

export function registerAdminRoutes(r: Router<Handler>): void {
  r.add('GET', '/api/vhosts', vhosts)
    .add('GET', '/api/vhosts/:name', vhost)
    .add('PUT', '/api/vhosts/:name', putVhost)
    .add('DELETE', '/api/vhosts/:name', deleteVhost)
    .add('GET', '/api/vhosts/:vhost/permissions', vhostPermissions)
    .add('GET', '/api/vhosts/:vhost/topic-permissions', topicPermissions)
    .add('GET', '/api/users', users)
    .add('GET', '/api/users/:name', user)
    .add('PUT', '/api/users/:name', putUser)
    .add('DELETE', '/api/users/:name', deleteUser)
    .add('GET', '/api/users/:name/permissions', userPermissions)
    .add('GET', '/api/permissions', permissions)
    .add('GET', '/api/permissions/:vhost/:user', permission)
    .add('PUT', '/api/permissions/:vhost/:user', putPermission)
    .add('DELETE', '/api/permissions/:vhost/:user', deletePermission)
    .add('GET', '/api/topic-permissions', topicPermissions)
    .add('GET', '/api/topic-permissions/:vhost/:user', topicPermissions)
    .add('PUT', '/api/topic-permissions/:vhost/:user', putTopicPermission)
    .add('DELETE', '/api/topic-permissions/:vhost/:user', deleteTopicPermission);
}
