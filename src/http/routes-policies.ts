import type { UserRecord } from '../auth/access-control.js';
import { USER_LIMIT_NAMES, VHOST_LIMIT_NAMES, type UserLimits, type VhostLimits } from '../broker/limits.js';
import type { PolicyKind } from '../broker/policies.js';
import { parseLimitValue, parsePolicy, policyJson, SettingError } from '../admin/settings.js';
import { isPolicymaker, requireAdmin } from './auth.js';
import type { Handler, RequestContext } from './context.js';
import { badRequest, notAuthorised, notFound } from './errors.js';
import { shapeList } from './list.js';
import { findUser } from './routes-admin.js';
import type { Router } from './router.js';

/**
 * Policies (policymakers and administrators), operator policies, vhost limits
 * and user limits (administrators to change), with RabbitMQ's paths, JSON and
 * codes: PUT 201 created / 204 updated, DELETE 204, 404 for a missing one.
 */

function requirePolicymaker(user: UserRecord): void {
  if (!isPolicymaker(user)) throw notAuthorised('Not policymaker user');
}

/** Runs a settings change, turning its validation error into RabbitMQ's 400. */
function settingCommand<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof SettingError) throw badRequest(err.reason);
    throw err;
  }
}

function policyRoutes(kind: PolicyKind, guard: (user: UserRecord) => void): { list: Handler; one: Handler; put: Handler; del: Handler } {
  const list: Handler = (ctx) => {
    guard(ctx.user);
    const names = ctx.vhostsInScope().map((v) => v.name);
    const items = names.flatMap((v) => ctx.backend.settings.listPolicies(kind, v).map(policyJson));
    return { body: shapeList(items as unknown as Record<string, unknown>[], ctx.query, ['name']) };
  };
  const one: Handler = (ctx) => {
    guard(ctx.user);
    const vhost = ctx.vhost(true);
    const p = vhost.policies.get(kind, ctx.params.name!);
    if (!p) throw notFound();
    return { body: policyJson(p) };
  };
  const put: Handler = async (ctx) => {
    guard(ctx.user);
    const vhost = ctx.vhost();
    const body = await ctx.json();
    const record = settingCommand(() => parsePolicy(vhost.name, ctx.params.name!, body, kind));
    const created = settingCommand(() => ctx.backend.settings.putPolicy(kind, record));
    return { status: created ? 201 : 204 };
  };
  const del: Handler = (ctx) => {
    guard(ctx.user);
    const vhost = ctx.vhost();
    if (!ctx.backend.settings.deletePolicy(kind, vhost.name, ctx.params.name!)) throw notFound();
    return { status: 204 };
  };
  return { list, one, put, del };
}

// ------------------------------------------------------------------ vhost limits

const vhostLimits: Handler = (ctx) => {
  const scope = ctx.vhostsInScope();
  const items = scope.filter((v) => Object.keys(v.limits).length > 0).map((v) => ({ vhost: v.name, value: { ...v.limits } }));
  return { body: items };
};

async function limitValue(ctx: RequestContext, known: readonly string[]): Promise<number> {
  const body = await ctx.json();
  return settingCommand(() => parseLimitValue(ctx.params.name!, body.value, known));
}

const putVhostLimit: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  const vhost = ctx.vhost();
  const value = await limitValue(ctx, VHOST_LIMIT_NAMES);
  const limits: VhostLimits = { ...vhost.limits, [ctx.params.name!]: value };
  settingCommand(() => ctx.backend.settings.setVhostLimits(vhost.name, limits));
  return { status: 204 };
};

const deleteVhostLimit: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const vhost = ctx.vhost();
  const name = ctx.params.name! as keyof VhostLimits;
  if (vhost.limits[name] === undefined) throw notFound();
  const { [name]: _gone, ...rest } = vhost.limits;
  ctx.backend.settings.setVhostLimits(vhost.name, rest);
  return { status: 204 };
};

// ------------------------------------------------------------------ user limits

const userLimits: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const only = ctx.params.user;
  if (only !== undefined) findUser(ctx, only);
  const items = [...ctx.backend.settings.userLimits].filter(([u]) => only === undefined || u === only).map(([user, value]) => ({ user, value: { ...value } }));
  return { body: items };
};

const putUserLimit: Handler = async (ctx) => {
  requireAdmin(ctx.user);
  const user = findUser(ctx, ctx.params.user!).name;
  const value = await limitValue(ctx, USER_LIMIT_NAMES);
  const limits: UserLimits = { ...ctx.backend.settings.userLimits.get(user), [ctx.params.name!]: value };
  ctx.backend.settings.setUserLimits(user, limits);
  return { status: 204 };
};

const deleteUserLimit: Handler = (ctx) => {
  requireAdmin(ctx.user);
  const user = ctx.params.user!;
  const name = ctx.params.name! as keyof UserLimits;
  const current = ctx.backend.settings.userLimits.get(user);
  if (current?.[name] === undefined) throw notFound();
  const { [name]: _gone, ...rest } = current;
  ctx.backend.settings.setUserLimits(user, rest);
  return { status: 204 };
};

export function registerPolicyRoutes(router: Router<Handler>): void {
  const policies = policyRoutes('policy', requirePolicymaker);
  const operator = policyRoutes('operator-policy', requireAdmin);
  for (const [base, r] of [['/api/policies', policies], ['/api/operator-policies', operator]] as const) {
    router
      .add('GET', base, r.list)
      .add('GET', `${base}/:vhost`, r.list)
      .add('GET', `${base}/:vhost/:name`, r.one)
      .add('PUT', `${base}/:vhost/:name`, r.put)
      .add('DELETE', `${base}/:vhost/:name`, r.del);
  }
  router
    .add('GET', '/api/vhost-limits', vhostLimits)
    .add('GET', '/api/vhost-limits/:vhost', vhostLimits)
    .add('PUT', '/api/vhost-limits/:vhost/:name', putVhostLimit)
    .add('DELETE', '/api/vhost-limits/:vhost/:name', deleteVhostLimit)
    .add('GET', '/api/user-limits', userLimits)
    .add('GET', '/api/user-limits/:user', userLimits)
    .add('PUT', '/api/user-limits/:user/:name', putUserLimit)
    .add('DELETE', '/api/user-limits/:user/:name', deleteUserLimit);
}
