/**
 * The internal authentication and authorisation backend, as RabbitMQ's
 * rabbit_auth_backend_internal: users (password hashes, tags), per-vhost
 * permissions (configure / write / read patterns) and topic permissions.
 *
 * Patterns are compiled once when set. Every change bumps `generation`, so
 * the channels' permission memos (see ChannelAccess) know to forget.
 */
import { AmqpError, ReplyCode } from '../protocol/index.js';
import { checkPassword, hashPassword, DEFAULT_HASHING_ALGORITHM, type HashingAlgorithm } from './password.js';
import { compilePattern, expandTopicPattern } from './patterns.js';

export type Permission = 'configure' | 'write' | 'read';
export type ResourceKind = 'exchange' | 'queue';

export interface UserRecord {
  readonly name: string;
  /** RabbitMQ's format (see password.ts); "" = no password: PLAIN/AMQPLAIN logins always fail. */
  readonly passwordHash: string;
  readonly hashingAlgorithm: HashingAlgorithm;
  readonly tags: readonly string[];
}

export interface PermissionRecord {
  readonly user: string;
  readonly vhost: string;
  readonly configure: string;
  readonly write: string;
  readonly read: string;
}

export interface TopicPermissionRecord {
  readonly user: string;
  readonly vhost: string;
  readonly exchange: string;
  readonly write: string;
  readonly read: string;
}

/** What changed (the composition root journals these). */
export type AuthChange =
  | { readonly kind: 'user'; readonly record: UserRecord }
  | { readonly kind: 'user-deleted'; readonly name: string }
  | { readonly kind: 'permission'; readonly record: PermissionRecord }
  | { readonly kind: 'permission-deleted'; readonly user: string; readonly vhost: string }
  | { readonly kind: 'topic-permission'; readonly record: TopicPermissionRecord }
  | { readonly kind: 'topic-permission-deleted'; readonly user: string; readonly vhost: string; readonly exchange: string };

interface CompiledPermission {
  readonly record: PermissionRecord;
  readonly configure: RegExp;
  readonly write: RegExp;
  readonly read: RegExp;
}

interface CompiledTopicPermission {
  readonly record: TopicPermissionRecord;
  readonly write: RegExp;
  readonly read: RegExp;
}

export class AuthError extends Error {}

/** The default exchange is checked (and named in refusals) as amq.default, as RabbitMQ does. */
export const resourceName = (kind: ResourceKind, name: string): string => (kind === 'exchange' && name === '' ? 'amq.default' : name);

export class AccessControl {
  private readonly users = new Map<string, UserRecord>();
  /** user → vhost → permission. */
  private readonly permissions = new Map<string, Map<string, CompiledPermission>>();
  /** user → vhost → exchange → topic permission. */
  private readonly topics = new Map<string, Map<string, Map<string, CompiledTopicPermission>>>();
  /** Bumped on every change: memoised decisions older than this are stale. */
  generation = 0;
  /**
   * Told of each change before it is applied (the broker journals it). If it
   * throws (the journal could not be written: disk full), the change is not
   * applied and the error goes to the caller.
   */
  onChange: ((change: AuthChange) => void) | null = null;

  /** Records `change` (journal first), then applies it and invalidates memoised decisions. */
  private change(change: AuthChange, apply: () => void): void {
    this.onChange?.(change);
    apply();
    this.generation++;
  }

  // ------------------------------------------------------------------ users

  user(name: string): UserRecord | undefined {
    return this.users.get(name);
  }

  listUsers(): UserRecord[] {
    return [...this.users.values()];
  }

  /** Adds or replaces a user record (hash already computed, e.g. from definitions). */
  putUser(record: UserRecord): void {
    const copy: UserRecord = { name: record.name, passwordHash: record.passwordHash, hashingAlgorithm: record.hashingAlgorithm, tags: [...record.tags] };
    this.change({ kind: 'user', record: copy }, () => this.users.set(copy.name, copy));
  }

  /** Adds or replaces a user with a clear-text password (hashed here; `null` = no password). */
  addUser(name: string, password: string | null, tags: readonly string[] = []): UserRecord {
    const record: UserRecord = { name, passwordHash: password === null ? '' : hashPassword(password), hashingAlgorithm: DEFAULT_HASHING_ALGORITHM, tags };
    this.putUser(record);
    return record;
  }

  /** Changes a password (connections stay open, as in RabbitMQ). */
  changePassword(name: string, password: string | null): void {
    const u = this.users.get(name);
    if (!u) throw new AuthError(`no such user: '${name}'`);
    this.putUser({ ...u, passwordHash: password === null ? '' : hashPassword(password), hashingAlgorithm: DEFAULT_HASHING_ALGORITHM });
  }

  setTags(name: string, tags: readonly string[]): void {
    const u = this.users.get(name);
    if (!u) throw new AuthError(`no such user: '${name}'`);
    this.putUser({ ...u, tags });
  }

  /** Deletes a user and every permission it held; false when there was none. */
  deleteUser(name: string): boolean {
    if (!this.users.has(name)) return false;
    for (const vhost of [...(this.permissions.get(name)?.keys() ?? [])]) this.clearPermissions(name, vhost);
    for (const [vhost, byExchange] of [...(this.topics.get(name) ?? [])]) {
      for (const exchange of [...byExchange.keys()]) this.clearTopicPermissions(name, vhost, exchange);
    }
    this.change({ kind: 'user-deleted', name }, () => this.users.delete(name));
    return true;
  }

  /** The user when the password matches its hash, else null. A user without a password never matches. */
  authenticate(name: string, password: string): UserRecord | null {
    const u = this.users.get(name);
    if (!u) return null;
    return checkPassword(u.passwordHash, u.hashingAlgorithm, password) ? u : null;
  }

  hasTag(name: string, tag: string): boolean {
    return this.users.get(name)?.tags.includes(tag) ?? false;
  }

  // ------------------------------------------------------------------ permissions

  /** Sets a user's permissions in a vhost. Throws PatternError (nothing changed) for a malformed pattern. */
  setPermissions(record: PermissionRecord): void {
    if (!this.users.has(record.user)) throw new AuthError(`no such user: '${record.user}'`);
    const copy: PermissionRecord = { user: record.user, vhost: record.vhost, configure: record.configure, write: record.write, read: record.read };
    const compiled: CompiledPermission = { record: copy, configure: compilePattern(copy.configure), write: compilePattern(copy.write), read: compilePattern(copy.read) };
    this.change({ kind: 'permission', record: copy }, () => {
      let byVhost = this.permissions.get(copy.user);
      if (!byVhost) this.permissions.set(copy.user, (byVhost = new Map()));
      byVhost.set(copy.vhost, compiled);
    });
  }

  clearPermissions(user: string, vhost: string): boolean {
    const byVhost = this.permissions.get(user);
    if (!byVhost?.has(vhost)) return false;
    this.change({ kind: 'permission-deleted', user, vhost }, () => {
      byVhost.delete(vhost);
      if (byVhost.size === 0) this.permissions.delete(user);
    });
    return true;
  }

  permission(user: string, vhost: string): PermissionRecord | undefined {
    return this.permissions.get(user)?.get(vhost)?.record;
  }

  listPermissions(): PermissionRecord[] {
    const out: PermissionRecord[] = [];
    for (const byVhost of this.permissions.values()) for (const p of byVhost.values()) out.push(p.record);
    return out;
  }

  setTopicPermissions(record: TopicPermissionRecord): void {
    if (!this.users.has(record.user)) throw new AuthError(`no such user: '${record.user}'`);
    const copy: TopicPermissionRecord = { user: record.user, vhost: record.vhost, exchange: record.exchange, write: record.write, read: record.read };
    // The user and vhost are fixed per record, so {username}/{vhost} expand once, here.
    const compile = (p: string): RegExp => compilePattern(p === '' ? '' : expandTopicPattern(p, copy.user, copy.vhost));
    const compiled: CompiledTopicPermission = { record: copy, write: compile(copy.write), read: compile(copy.read) };
    this.change({ kind: 'topic-permission', record: copy }, () => {
      let byVhost = this.topics.get(copy.user);
      if (!byVhost) this.topics.set(copy.user, (byVhost = new Map()));
      let byExchange = byVhost.get(copy.vhost);
      if (!byExchange) byVhost.set(copy.vhost, (byExchange = new Map()));
      byExchange.set(copy.exchange, compiled);
    });
  }

  clearTopicPermissions(user: string, vhost: string, exchange: string): boolean {
    const byExchange = this.topics.get(user)?.get(vhost);
    if (!byExchange?.has(exchange)) return false;
    this.change({ kind: 'topic-permission-deleted', user, vhost, exchange }, () => {
      byExchange.delete(exchange);
      if (byExchange.size === 0) this.topics.get(user)!.delete(vhost);
      if (this.topics.get(user)!.size === 0) this.topics.delete(user);
    });
    return true;
  }

  listTopicPermissions(): TopicPermissionRecord[] {
    const out: TopicPermissionRecord[] = [];
    for (const byVhost of this.topics.values()) for (const byExchange of byVhost.values()) for (const t of byExchange.values()) out.push(t.record);
    return out;
  }

  /** A vhost went: every permission in it goes too. */
  vhostDeleted(vhost: string): void {
    for (const user of [...this.permissions.keys()]) this.clearPermissions(user, vhost);
    for (const [user, byVhost] of [...this.topics]) {
      for (const exchange of [...(byVhost.get(vhost)?.keys() ?? [])]) this.clearTopicPermissions(user, vhost, exchange);
    }
  }

  // ------------------------------------------------------------------ checks

  /** A user may open a vhost only when it has a permission record there (whatever the patterns). */
  mayOpen(user: string, vhost: string): boolean {
    return this.permissions.get(user)?.has(vhost) ?? false;
  }

  resourceAllowed(user: string, vhost: string, kind: ResourceKind, name: string, permission: Permission): boolean {
    const p = this.permissions.get(user)?.get(vhost);
    return p !== undefined && p[permission].test(resourceName(kind, name));
  }

  /** 403 with RabbitMQ's text unless the user has `permission` on the resource. */
  checkResource(user: string, vhost: string, kind: ResourceKind, name: string, permission: Permission): void {
    if (!this.resourceAllowed(user, vhost, kind, name, permission)) {
      throw new AmqpError(ReplyCode.AccessRefused, `${permission} access to ${kind} '${resourceName(kind, name)}' in vhost '${vhost}' refused for user '${user}'`);
    }
  }

  /** Topic permissions: everything is allowed on an exchange the user has no topic permission for. */
  topicAllowed(user: string, vhost: string, exchange: string, routingKey: string, permission: 'write' | 'read'): boolean {
    const t = this.topics.get(user)?.get(vhost)?.get(exchange);
    return t === undefined || t[permission].test(routingKey);
  }

  /** Whether the user has any topic permission in the vhost (publishes there need no topic check otherwise). */
  hasAnyTopicPermissions(user: string, vhost: string): boolean {
    return (this.topics.get(user)?.get(vhost)?.size ?? 0) > 0;
  }

  hasTopicPermissions(user: string, vhost: string, exchange: string): boolean {
    return this.topics.get(user)?.get(vhost)?.has(exchange) ?? false;
  }

  checkTopic(user: string, vhost: string, exchange: string, routingKey: string, permission: 'write' | 'read'): void {
    if (!this.topicAllowed(user, vhost, exchange, routingKey, permission)) {
      throw new AmqpError(ReplyCode.AccessRefused, `${permission} access to topic '${routingKey}' in exchange '${exchange}' in vhost '${vhost}' refused for user '${user}'`);
    }
  }
}
