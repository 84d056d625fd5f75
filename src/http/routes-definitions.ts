import { DefinitionsFormatError } from '../admin/definitions-format.js';
import { requireAdmin } from './auth.js';
import type { Handler, RequestContext } from './context.js';
import { badRequest } from './errors.js';
import type { Router } from './router.js';

/**
 * Definitions in RabbitMQ's format: GET exports, POST imports (merging as
 * RabbitMQ does), for the whole broker or one vhost (whose items carry no
 * vhost field, as RabbitMQ's per-vhost export).
 */

/** RabbitMQ's default max_http_body_size: definitions files can be large. */
const DEFINITIONS_BODY_LIMIT = 20 * 1024 * 1024;

/** The keys a per-vhost document holds (everything else is broker-wide). */
const VHOST_KEYS = ['parameters', 'policies', 'queues', 'exchanges', 'bindings'] as const;

function imported(ctx: RequestContext, doc: Record<string, unknown>): void {
  try {
    ctx.backend.importDefinitions(doc);
  } catch (err) {
    if (err instanceof DefinitionsFormatError) throw badRequest(err.message);
    throw err;
  }
}

const exportAll: Handler = (ctx) => {
  requireAdmin(ctx.user);
  return { body: ctx.backend.exportDefinitions() };
};

const importAll: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  imported(ctx, await ctx.json(DEFINITIONS_BODY_LIMIT));
  return { status: 204 };
};

const exportVhost: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const vhost = ctx.vhost().name;
  const all = ctx.backend.exportDefinitions();
  const out: Record<string, unknown> = {};
  for (const k of ['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version']) if (k in all) out[k] = all[k];
  for (const k of VHOST_KEYS) {
    const items = Array.isArray(all[k]) ? (all[k] as Record<string, unknown>[]) : [];
    out[k] = items.filter((i) => i.vhost === vhost).map(({ vhost: _drop, ...rest }) => rest);
  }
  return { body: out };
};

const importVhost: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  const vhost = ctx.vhost().name;
  const body = await ctx.json(DEFINITIONS_BODY_LIMIT);
  const doc: Record<string, unknown> = {};
  for (const k of VHOST_KEYS) {
    const items = body[k];
    if (items === undefined) continue;
    if (!Array.isArray(items)) throw badRequest(`${k} must be a list`);
    doc[k] = items.map((i: unknown) => (i !== null && typeof i === 'object' ? { ...(i as Record<string, unknown>), vhost } : i));
  }
  imported(ctx, doc);
  return { status: 204 };
};

export function registerDefinitionRoutes(r: Router<Handler>): void {
  r.add('GET', '/api/definitions', exportAll)
    .add('POST', '/api/definitions', importAll)
    .add('GET', '/api/definitions/:vhost', exportVhost)
    .add('POST', '/api/definitions/:vhost', importVhost);
}
