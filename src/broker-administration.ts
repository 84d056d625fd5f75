/**
 * The broker's administration verbs (rabbitmqctl's): vhosts, users,
 * permissions, policies and limits, definitions import and export. Broker
 * (src/warren.ts) extends this; each verb is the model command the management
 * API and `warren ctl` call too.
 */
import type { Administration, VhostInfo } from './admin/administration.js';
import type { RuntimeSettings } from './admin/settings.js';
import type { AccessControl, PermissionRecord, TopicPermissionRecord, UserRecord } from './auth/access-control.js';
import type { Statistics } from './broker/statistics.js';
import type { VirtualHost } from './broker/virtual-host.js';

export abstract class BrokerAdministration {
  protected abstract readonly admin: Administration;
  /** Users, permissions and topic permissions (RabbitMQ's internal auth backend). */
  abstract readonly access: AccessControl;
  abstract readonly vhosts: Map<string, VirtualHost>;
  abstract readonly statistics: Statistics;

  /** Creates a vhost (a no-op when it exists). */
  createVhost(name: string, options: { description?: string; tags?: string[] } = {}): void {
    this.admin.createVhost(name, options.description, options.tags);
  }

  /** Deletes a vhost: closes its connections (320), deletes its objects and stored messages. False if unknown. */
  async deleteVhost(name: string): Promise<boolean> {
    const deleted = await this.admin.deleteVhost(name);
    if (deleted) this.statistics.forgetVhost(name);
    return deleted;
  }

  listVhosts(): VhostInfo[] {
    return this.admin.listVhosts();
  }

  /** Policies, operator policies, vhost and user limits (rabbitmqctl set_policy, set_vhost_limits…). */
  get settings(): RuntimeSettings {
    return this.admin.settings;
  }

  /** Adds (or replaces) a user; `password` null = a user that cannot log in with a password. */
  addUser(name: string, password: string | null, tags: string[] = []): void {
    this.access.addUser(name, password, tags);
  }

  /** Changes a password; the user's open connections stay open (as in RabbitMQ). */
  changePassword(name: string, password: string | null): void {
    this.access.changePassword(name, password);
  }

  setUserTags(name: string, tags: string[]): void {
    this.access.setTags(name, tags);
  }

  /** Deletes a user and its permissions, closing its connections (320). False if unknown. */
  deleteUser(name: string): Promise<boolean> {
    return this.admin.deleteUser(name);
  }

  listUsers(): UserRecord[] {
    return this.access.listUsers();
  }

  /** Sets a user's configure/write/read patterns in a vhost (effective at once on open channels). */
  setPermissions(user: string, vhost: string, p: Pick<PermissionRecord, 'configure' | 'write' | 'read'>): void {
    if (!this.vhosts.has(vhost)) throw new Error(`no such vhost: '${vhost}'`);
    this.access.setPermissions({ user, vhost, configure: p.configure, write: p.write, read: p.read });
  }

  clearPermissions(user: string, vhost: string): void {
    this.access.clearPermissions(user, vhost);
  }

  setTopicPermissions(user: string, vhost: string, exchange: string, p: Pick<TopicPermissionRecord, 'write' | 'read'>): void {
    if (!this.vhosts.has(vhost)) throw new Error(`no such vhost: '${vhost}'`);
    this.access.setTopicPermissions({ user, vhost, exchange, write: p.write, read: p.read });
  }

  clearTopicPermissions(user: string, vhost: string, exchange: string): void {
    this.access.clearTopicPermissions(user, vhost, exchange);
  }

  /** Imports definitions in RabbitMQ's format (merged as RabbitMQ does). Throws DefinitionsFormatError, changing nothing, for a bad document. */
  importDefinitions(definitions: Record<string, unknown>): void {
    this.admin.importDefinitions(definitions);
  }

  /** Everything defined, in RabbitMQ's format (password hashes, not passwords). */
  exportDefinitions(): Record<string, unknown> {
    return this.admin.exportDefinitions();
  }
}
