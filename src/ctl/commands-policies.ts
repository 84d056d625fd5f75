import { seg, usageError } from './client.js';
import { noVhost } from './commands-admin.js';
import type { Command } from './command.js';
import { listCommand } from './commands-list.js';
import { banner } from './output.js';

/** rabbitmqctl's policy and vhost-limit commands over /api/policies and /api/vhost-limits. */

/** A JSON argument (a policy definition, a limits document): bad JSON is bad usage, naming the argument. */
function jsonObjectArgument(command: string, name: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usageError(`${command}: ${name} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw usageError(`${command}: ${name} must be a JSON object, got ${text}`);
  return value as Record<string, unknown>;
}

const listPolicies = listCommand({
  name: 'list_policies',
  summary: 'policies in a vhost',
  banner: (v) => `Listing policies for vhost "${v}" ...`,
  path: (v) => `/api/policies/${seg(v)}`,
  defaults: ['vhost', 'name', 'pattern', 'apply-to', 'definition', 'priority'],
  columns: Object.fromEntries(['vhost', 'name', 'pattern', 'apply-to', 'definition', 'priority'].map((c) => [c, (i: Record<string, unknown>) => i[c]])),
});

const setPolicy: Command = {
  name: 'set_policy',
  args: '<name> <pattern> <definition>',
  summary: 'sets a policy in the vhost (-p): --priority N (default 0), --apply-to queues|exchanges|all (default all)',
  arity: [3, 3],
  options: ['priority', 'apply-to'],
  async run(ctx, [name, pattern, text]) {
    const definition = jsonObjectArgument('set_policy', '<definition>', text!);
    const raw = ctx.options.priority;
    if (raw !== undefined && !/^-?\d+$/.test(String(raw))) throw usageError(`--priority expects an integer, got '${String(raw)}'`);
    const priority = raw === undefined ? 0 : Number(raw);
    const body: Record<string, unknown> = { pattern, definition, priority };
    if (typeof ctx.options['apply-to'] === 'string') body['apply-to'] = ctx.options['apply-to'];
    banner(ctx.out, `Setting policy "${name}" for pattern "${pattern}" to "${text}" with priority "${priority}" for vhost "${ctx.vhost}" ...`);
    await ctx.api.expect('PUT', `/api/policies/${seg(ctx.vhost)}/${seg(name!)}`, { body, notFound: noVhost(ctx.vhost) });
  },
};

const clearPolicy: Command = {
  name: 'clear_policy',
  args: '<name>',
  summary: 'removes a policy from the vhost (-p)',
  arity: [1, 1],
  async run(ctx, [name]) {
    banner(ctx.out, `Clearing policy "${name}" on vhost "${ctx.vhost}" ...`);
    await ctx.api.expect('DELETE', `/api/policies/${seg(ctx.vhost)}/${seg(name!)}`, { notFound: `policy '${name}' in vhost '${ctx.vhost}' does not exist` });
  },
};

/**
 * rabbitmqctl's set_vhost_limits replaces the vhost's whole limits document
 * ('{}' clears them; a negative value means no limit): every given limit is
 * set, then any other one the vhost had is removed.
 */
const setVhostLimits: Command = {
  name: 'set_vhost_limits',
  args: '<definition>',
  summary: `replaces the vhost's (-p) limits, e.g. '{"max-connections": 10, "max-queues": 100}'`,
  arity: [1, 1],
  async run(ctx, [text]) {
    const limits = jsonObjectArgument('set_vhost_limits', '<definition>', text!);
    banner(ctx.out, `Applying limits to vhost "${ctx.vhost}": ${text} ...`);
    const base = `/api/vhost-limits/${seg(ctx.vhost)}`;
    const current = (await ctx.api.expect('GET', base, { notFound: noVhost(ctx.vhost) })) as { value?: Record<string, unknown> }[];
    for (const [name, value] of Object.entries(limits)) {
      await ctx.api.expect('PUT', `${base}/${seg(name)}`, { body: { value }, notFound: noVhost(ctx.vhost) });
    }
    for (const name of Object.keys(current[0]?.value ?? {})) {
      if (!(name in limits)) await ctx.api.expect('DELETE', `${base}/${seg(name)}`, { notFound: () => Promise.resolve(null) });
    }
  },
};

export const POLICY_COMMANDS: readonly Command[] = [listPolicies, setPolicy, clearPolicy, setVhostLimits];
