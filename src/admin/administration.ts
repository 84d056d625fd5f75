/**
 * Run-time administration of vhosts, users and permissions — what
 * `rabbitmqctl` and the management API do — plus definitions import/export.
 * Every change is journaled (when the broker has a data directory) and
 * takes effect at once on open connections: a deleted vhost or user closes
 * its connections with 320, a permission change invalidates every
 * channel's memo (AccessControl.generation).
 */
import { readFileSync } from 'node:fs';
import { AccessControl, type AuthChange } from '../auth/access-control.js';
import { DEFAULT_HASHING_ALGORITHM, isHashingAlgorithm } from '../auth/password.js';
import { VirtualHost } from '../broker/virtual-host.js';
import type { Logger } from '../observe/logger.js';
import type { Server } from '../server/server.js';
import type { Definitions, DefinitionsJournal } from '../store/definitions.js';
import type { MessageLog } from '../store/message-log.js';
import type { Durability } from '../store/durability-port.js';
import type { QueueStorage } from '../store/queue-storage.js';
import { AmqpError, Decimal, mapFieldTree, type FieldTable } from '../protocol/index.js';
import { DefinitionsFormatError, parseDefinitions, type ParsedDefinitions } from './definitions-format.js';
import { VERSION } from '../version.js';
import { RuntimeSettings } from './settings.js';
import type { UserLimits } from '../broker/limits.js';
import { applySettings, exportSettings, parseSettings } from './settings-definitions.js';

/** Objects declared by an import have no exclusive owner. */
const NO_OWNER = { id: 0 };
export const FULL_ACCESS = { configure: '.*', write: '.*', read: '.*' } as const;

export interface VhostInfo {
  name: string;
  description: string;
  tags: string[];
}

export class Administration {
  private journal: DefinitionsJournal | null = null;
  private log: MessageLog | null = null;
  private durability: Durability | null = null;
  private queueStorage: ((id: number, durable: boolean) => QueueStorage) | null = null;
  private readonly meta = new Map<string, VhostInfo>();
  /** Users given with `--user`: full permissions on every vhost, including vhosts created later. */
  readonly everyVhostUsers = new Set<string>();
  /** Policies, operator policies, vhost and user limits. */
  readonly settings: RuntimeSettings;

  constructor(
    readonly vhosts: Map<string, VirtualHost>,
    readonly access: AccessControl,
    private readonly server: Server,
    private readonly logger: Logger,
    userLimits?: Map<string, UserLimits>,
  ) {
    this.settings = new RuntimeSettings(vhosts, logger, userLimits);
  }

  /** Restores users, vhosts and permissions from the data directory, then journals every later change. */
  attachStore(journal: DefinitionsJournal, log: MessageLog, durability: Durability, queueStorage: (id: number, durable: boolean) => QueueStorage, restored: Definitions): void {
    const a = restored.auth;
    for (const v of a.vhosts.values()) this.meta.set(v.name, { name: v.name, description: v.description, tags: [...v.tags] });
    for (const u of a.users.values()) {
      const algorithm = isHashingAlgorithm(u.algorithm) ? u.algorithm : DEFAULT_HASHING_ALGORITHM;
      this.access.putUser({ name: u.name, passwordHash: u.hash, hashingAlgorithm: algorithm, tags: u.tags });
    }
    for (const p of a.permissions.values()) this.restore(() => this.access.setPermissions(p), p);
    for (const t of a.topicPermissions.values()) this.restore(() => this.access.setTopicPermissions(t), t);
    this.settings.restore(restored.settings.values());
    this.settings.journal = journal;
    this.journal = journal;
    this.log = log;
    this.durability = durability;
    this.queueStorage = queueStorage;
    // Vhosts that predate vhost records (configured ones with stored objects) are recorded now.
    for (const name of this.vhosts.keys()) if (!a.vhosts.has(name)) journal.vhostPut(this.info(name));
    this.access.onChange = (change) => this.journalChange(change);
  }

  private restore(apply: () => void, what: object): void {
    try {
      apply();
    } catch (err) {
      this.logger.error({ err: (err as Error).message, record: what }, 'stored permission no longer valid; skipped');
    }
  }

  private journalChange(c: AuthChange): void {
    const j = this.journal;
    if (!j) return;
    switch (c.kind) {
      case 'user':
        return j.userPut({ name: c.record.name, hash: c.record.passwordHash, algorithm: c.record.hashingAlgorithm, tags: [...c.record.tags] });
      case 'user-deleted':
        return j.userDeleted(c.name);
      case 'permission':
        return j.permissionPut({ ...c.record });
      case 'permission-deleted':
        return j.permissionDeleted(c.user, c.vhost);
      case 'topic-permission':
        return j.topicPermissionPut({ ...c.record });
      case 'topic-permission-deleted':
        return j.topicPermissionDeleted(c.user, c.vhost, c.exchange);
    }
  }

  private info(name: string): VhostInfo {
    return this.meta.get(name) ?? { name, description: '', tags: [] };
  }

  // ------------------------------------------------------------------ vhosts

  listVhosts(): VhostInfo[] {
    return [...this.vhosts.keys()].map((n) => ({ ...this.info(n), tags: [...this.info(n).tags] }));
  }

  /** Creates a vhost (idempotent); `--user` users get full permissions on it. */
  createVhost(name: string, description = '', tags: string[] = []): VirtualHost {
    let vhost = this.vhosts.get(name);
    if (vhost) return vhost;
    // Journaled first: a write that fails (disk full) throws before anything changes.
    this.journal?.vhostPut({ name, description, tags: [...tags] });
    vhost = new VirtualHost(name);
    vhost.logger = this.logger;
    if (this.journal && this.log && this.durability && this.queueStorage) {
      vhost.journal = this.journal;
      vhost.log = this.log;
      vhost.durability = this.durability;
      vhost.queueStorage = this.queueStorage;
    }
    this.meta.set(name, { name, description, tags: [...tags] });
    this.vhosts.set(name, vhost);
    for (const user of this.everyVhostUsers) if (this.access.user(user)) this.access.setPermissions({ user, vhost: name, ...FULL_ACCESS });
    this.logger.info({ vhost: name }, 'vhost created');
    return vhost;
  }

  /**
   * Deletes a vhost: its connections are closed (320), then its queues (with
   * their stored messages), exchanges, bindings and permissions go. Resolves
   * once the connections are gone; false if there was no such vhost.
   */
  async deleteVhost(name: string): Promise<boolean> {
    const vhost = this.vhosts.get(name);
    if (!vhost) return false;
    // One journal record drops everything the vhost defined (permissions included), written
    // first: if it cannot be (disk full) this throws and nothing has changed.
    this.journal?.vhostDeleted(name);
    this.vhosts.delete(name);
    this.meta.delete(name);
    this.logger.info({ vhost: name }, `closing all connections in vhost '${name}' because it's being deleted`);
    const closed = this.server.closeConnections((c) => c.vhost === vhost, `vhost '${name}' is deleted`);
    // The queues' messages go with the queues.
    vhost.journal = null;
    for (const q of [...vhost.queues.values()]) vhost.removeQueue(q);
    vhost.exchanges.clear();
    try {
      this.access.vhostDeleted(name);
    } catch (err) {
      // Its permission records are redundant after the vhost's: replay drops them anyway.
      this.logger.error({ err, vhost: name }, 'cannot journal the removal of a deleted vhost\'s permissions');
    }
    await closed;
    return true;
  }

  // ------------------------------------------------------------------ users

  /** Deletes a user (and its permissions) and closes its connections with 320. */
  async deleteUser(name: string): Promise<boolean> {
    if (!this.access.deleteUser(name)) return false;
    this.settings.userDeleted(name);
    this.everyVhostUsers.delete(name);
    this.logger.info({ user: name }, `closing all connections from user '${name}' because it's being deleted`);
    await this.server.closeConnections((c) => c.user?.name === name, `user '${name}' is deleted`);
    return true;
  }

  // ------------------------------------------------------------------ definitions

  /** Reads a definitions file; a bad one throws DefinitionsFormatError naming the file and the JSON path. */
  static readFile(path: string): unknown {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new DefinitionsFormatError('$', `cannot read definitions file ${path}: ${(err as Error).message}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new DefinitionsFormatError('$', `definitions file ${path} is not JSON: ${(err as Error).message}`);
    }
  }

  /**
   * Imports definitions in RabbitMQ's format, merging as RabbitMQ does: users
   * and permissions are set, missing vhosts, exchanges, queues and bindings
   * are created, existing objects that differ are left alone (and logged).
   * The whole document is validated first: a bad one changes nothing.
   */
  importDefinitions(doc: unknown): void {
    const d = parseDefinitions(doc, {
      user: (n) => this.access.user(n) !== undefined,
      vhost: (n) => this.vhosts.has(n),
      exchange: (v, n) => this.vhosts.get(v)?.exchanges.has(n) ?? false,
      queue: (v, n) => this.vhosts.get(v)?.queues.has(n) ?? false,
    });
    const fileVhosts = new Set(d.vhosts.map((v) => v.name));
    const settings = parseSettings(doc as Record<string, unknown>, (n) => fileVhosts.has(n) || this.vhosts.has(n));
    this.applyDefinitions(d);
    applySettings(this.settings, settings);
    if (settings.otherParameters > 0) this.logger.warn({ count: settings.otherParameters }, 'definitions: runtime parameters of other components are kept in the file but not applied');
  }

  private applyDefinitions(d: ParsedDefinitions): void {
    for (const v of d.vhosts) this.createVhost(v.name, v.description, v.tags);
    for (const u of d.users) {
      if (u.password !== null) this.access.addUser(u.name, u.password, u.tags);
      else this.access.putUser({ name: u.name, passwordHash: u.passwordHash, hashingAlgorithm: u.hashingAlgorithm, tags: u.tags });
    }
    for (const p of d.permissions) this.access.setPermissions(p);
    for (const t of d.topicPermissions) this.access.setTopicPermissions(t);
    for (const x of d.exchanges) {
      const vhost = this.vhosts.get(x.vhost)!;
      this.declare(x.path, vhost.exchanges.has(x.name), () => vhost.declareExchange(x.name, { type: x.type, passive: false, durable: x.durable, autoDelete: x.autoDelete, internal: x.internal, arguments: x.arguments }));
    }
    for (const q of d.queues) {
      const vhost = this.vhosts.get(q.vhost)!;
      this.declare(q.path, vhost.queues.has(q.name), () => vhost.declareQueue(q.name, { passive: false, durable: q.durable, exclusive: false, autoDelete: q.autoDelete, arguments: q.arguments }, NO_OWNER));
    }
    for (const b of d.bindings) {
      const vhost = this.vhosts.get(b.vhost)!;
      this.declare(b.path, false, () => vhost.bind(b.destinationType, b.destination, b.source, b.routingKey, b.arguments, NO_OWNER));
    }
    for (const [key, items] of Object.entries(d.unapplied)) {
      this.logger.warn({ key, count: items.length }, `definitions: ${key} are kept in the file but not applied yet`);
    }
    this.logger.info({ users: d.users.length, vhosts: d.vhosts.length, permissions: d.permissions.length, exchanges: d.exchanges.length, queues: d.queues.length, bindings: d.bindings.length }, 'definitions imported');
  }

  /** Declares one imported object: an existing one that differs is left alone; anything else wrong is an error at its path. */
  private declare(path: string, exists: boolean, run: () => unknown): void {
    try {
      run();
    } catch (err) {
      if (!(err instanceof AmqpError)) throw err;
      if (exists) {
        this.logger.warn({ path, reason: err.replyText }, 'definitions: an existing object differs from the imported one; left alone');
        return;
      }
      throw new DefinitionsFormatError(path, err.replyText);
    }
  }

  /** Everything defined, in RabbitMQ's format (password hashes, never passwords). */
  exportDefinitions(): Record<string, unknown> {
    const vhosts = this.listVhosts();
    const exchanges: unknown[] = [];
    const queues: unknown[] = [];
    const bindings: unknown[] = [];
    const settingsOut = exportSettings(this.settings, this.vhosts);
    for (const [vname, v] of this.vhosts) {
      for (const x of v.exchanges.values()) {
        if (x.name !== '' && !x.name.startsWith('amq.')) {
          exchanges.push({ name: x.name, vhost: vname, type: x.type, durable: x.durable, auto_delete: x.autoDelete, internal: x.internal, arguments: toJsonTable(x.arguments) });
        }
        for (const b of x.outgoing) {
          if (b.destination.kind === 'queue' && (v.queues.get(b.destination.name)?.exclusiveOwner ?? null) !== null) continue;
          bindings.push({ source: x.name, vhost: vname, destination: b.destination.name, destination_type: b.destination.kind, routing_key: b.routingKey, arguments: toJsonTable(b.arguments) });
        }
      }
      for (const q of v.queues.values()) {
        if (q.exclusiveOwner !== null) continue; // exclusive queues belong to a connection, as RabbitMQ
        queues.push({ name: q.name, vhost: vname, durable: q.durable, auto_delete: q.autoDelete, arguments: toJsonTable(q.arguments) });
      }
    }
    return {
      rabbit_version: '3.13.0',
      rabbitmq_version: '3.13.0',
      product_name: 'Warren',
      product_version: VERSION,
      users: this.access.listUsers().map((u) => ({ name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm, tags: [...u.tags], limits: { ...this.settings.userLimits.get(u.name) } })),
      vhosts: vhosts.map((v) => ({ name: v.name, description: v.description, tags: v.tags, metadata: { description: v.description, tags: v.tags } })),
      permissions: this.access.listPermissions().map((p) => ({ user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read })),
      topic_permissions: this.access.listTopicPermissions().map((t) => ({ user: t.user, vhost: t.vhost, exchange: t.exchange, write: t.write, read: t.read })),
      parameters: settingsOut.parameters,
      global_parameters: [],
      policies: settingsOut.policies,
      queues,
      exchanges,
      bindings,
    };
  }
}

/** Tables are plain objects; Buffers, Dates and Decimals are values of their own. */
const isFieldTable = (v: object): boolean => !Buffer.isBuffer(v) && !(v instanceof Date) && !(v instanceof Decimal);

function leafToJson(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (v instanceof Decimal) return v.value / 10 ** v.scale;
  return v;
}

/** Arguments as definitions JSON, at any depth (mapFieldTree does not recurse). */
function toJsonTable(t: FieldTable): Record<string, unknown> {
  return mapFieldTree(t, isFieldTable, leafToJson) as Record<string, unknown>;
}
