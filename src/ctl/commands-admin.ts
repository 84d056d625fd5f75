import { CtlError, seg, type ApiClient } from './client.js';
import type { Command } from './command.js';
import { banner } from './output.js';

/**
 * rabbitmqctl's user, permission and vhost commands, each one or two
 * management API calls. Where the API would quietly create (PUT on a missing
 * user) or a 404 could mean two things (vhost or user), the command checks
 * first, so the error names what is missing.
 */

async function exists(api: ApiClient, path: string): Promise<boolean> {
  const res = await api.send('GET', path);
  if (res.status === 404) return false;
  if (res.status >= 200 && res.status < 300) return true;
  await api.expect('GET', path); // throws the API's own error
  return true;
}

const noUser = (user: string): string => `user '${user}' does not exist`;
export const noVhost = (vhost: string): string => `virtual host '${vhost}' does not exist`;

/** A 404 on /api/{permissions,topic-permissions}/vhost/user: which of the two is missing, or null when both exist. */
function missingVhostOrUser(api: ApiClient, vhost: string, user: string): () => Promise<string | null> {
  return async () => {
    if (!(await exists(api, `/api/vhosts/${seg(vhost)}`))) return noVhost(vhost);
    if (!(await exists(api, `/api/users/${seg(user)}`))) return noUser(user);
    return null;
  };
}

async function requireUser(api: ApiClient, user: string): Promise<void> {
  if (!(await exists(api, `/api/users/${seg(user)}`))) throw new CtlError(noUser(user));
}

const addUser: Command = {
  name: 'add_user',
  args: '<username> <password>',
  summary: 'creates a user (no tags, no permissions)',
  arity: [2, 2],
  async run(ctx, [user, password]) {
    banner(ctx.out, `Adding user "${user}" ...`);
    if (await exists(ctx.api, `/api/users/${seg(user!)}`)) throw new CtlError(`user '${user}' already exists`);
    await ctx.api.expect('PUT', `/api/users/${seg(user!)}`, { body: { password, tags: '' } });
  },
};

const deleteUser: Command = {
  name: 'delete_user',
  args: '<username>',
  summary: 'deletes a user and its permissions',
  arity: [1, 1],
  async run(ctx, [user]) {
    banner(ctx.out, `Deleting user "${user}" ...`);
    await ctx.api.expect('DELETE', `/api/users/${seg(user!)}`, { notFound: noUser(user!) });
  },
};

const changePassword: Command = {
  name: 'change_password',
  args: '<username> <password>',
  summary: "sets a user's password",
  arity: [2, 2],
  async run(ctx, [user, password]) {
    banner(ctx.out, `Changing password for user "${user}" ...`);
    await requireUser(ctx.api, user!);
    await ctx.api.expect('PUT', `/api/users/${seg(user!)}`, { body: { password }, notFound: noUser(user!) });
  },
};

const setUserTags: Command = {
  name: 'set_user_tags',
  args: '<username> [<tag> ...]',
  summary: "replaces a user's tags (none: clears them)",
  arity: [1, Infinity],
  async run(ctx, [user, ...tags]) {
    banner(ctx.out, `Setting tags for user "${user}" to [${tags.join(', ')}] ...`);
    await requireUser(ctx.api, user!);
    await ctx.api.expect('PUT', `/api/users/${seg(user!)}`, { body: { tags }, notFound: noUser(user!) });
  },
};

const setPermissions: Command = {
  name: 'set_permissions',
  args: '<username> <conf> <write> <read>',
  summary: "sets a user's configure/write/read patterns in the vhost (-p)",
  arity: [4, 4],
  async run(ctx, [user, configure, write, read]) {
    banner(ctx.out, `Setting permissions for user "${user}" in vhost "${ctx.vhost}" ...`);
    const path = `/api/permissions/${seg(ctx.vhost)}/${seg(user!)}`;
    const missing = missingVhostOrUser(ctx.api, ctx.vhost, user!);
    await ctx.api.expect('PUT', path, { body: { configure, write, read }, notFound: async () => (await missing()) ?? 'not found' });
  },
};

const clearPermissions: Command = {
  name: 'clear_permissions',
  args: '<username>',
  summary: "removes a user's permissions in the vhost (-p)",
  arity: [1, 1],
  async run(ctx, [user]) {
    banner(ctx.out, `Clearing permissions for user "${user}" in vhost "${ctx.vhost}" ...`);
    // A user without permissions there has nothing to clear: done (as rabbitmqctl).
    await ctx.api.expect('DELETE', `/api/permissions/${seg(ctx.vhost)}/${seg(user!)}`, { notFound: missingVhostOrUser(ctx.api, ctx.vhost, user!) });
  },
};

const setTopicPermissions: Command = {
  name: 'set_topic_permissions',
  args: '<username> <exchange> <write> <read>',
  summary: "sets a user's topic permissions (routing-key patterns) on an exchange in the vhost (-p)",
  arity: [4, 4],
  async run(ctx, [user, exchange, write, read]) {
    banner(ctx.out, `Setting topic permissions on "${exchange}" for user "${user}" in vhost "${ctx.vhost}" ...`);
    const missing = missingVhostOrUser(ctx.api, ctx.vhost, user!);
    await ctx.api.expect('PUT', `/api/topic-permissions/${seg(ctx.vhost)}/${seg(user!)}`, { body: { exchange, write, read }, notFound: async () => (await missing()) ?? 'not found' });
  },
};

const addVhost: Command = {
  name: 'add_vhost',
  args: '<vhost>',
  summary: 'creates a virtual host (--description text, --tags a,b)',
  arity: [1, 1],
  options: ['description', 'tags'],
  async run(ctx, [vhost]) {
    banner(ctx.out, `Adding vhost "${vhost}" ...`);
    const body: Record<string, unknown> = {};
    if (typeof ctx.options.description === 'string') body.description = ctx.options.description;
    if (typeof ctx.options.tags === 'string') body.tags = ctx.options.tags;
    await ctx.api.expect('PUT', `/api/vhosts/${seg(vhost!)}`, { body });
  },
};

const deleteVhost: Command = {
  name: 'delete_vhost',
  args: '<vhost>',
  summary: 'deletes a virtual host and everything in it',
  arity: [1, 1],
  async run(ctx, [vhost]) {
    banner(ctx.out, `Deleting vhost "${vhost}" ...`);
    await ctx.api.expect('DELETE', `/api/vhosts/${seg(vhost!)}`, { notFound: noVhost(vhost!) });
  },
};

export const ADMIN_COMMANDS: readonly Command[] = [addUser, deleteUser, changePassword, setUserTags, setPermissions, clearPermissions, setTopicPermissions, addVhost, deleteVhost];
