import type { Statistics } from '../broker/statistics.js';
import type { AccessControl, PermissionRecord, TopicPermissionRecord } from '../auth/access-control.js';
import type { VhostInfo } from '../admin/administration.js';
import type { RuntimeSettings } from '../admin/settings.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import type { ResolvedOptions } from '../config.js';
import type { Logger } from '../observe/logger.js';
import type { ConnectionSnapshot } from '../server/snapshot.js';
import type { LoginThrottle } from '../server/login-throttle.js';

/** A port the node listens on (RabbitMQ's `listeners` entries). */
export interface Listener {
  readonly protocol: 'amqp' | 'amqp/ssl' | 'http' | 'https' | 'http/prometheus';
  readonly port: number;
  readonly ipAddress: string;
}

/** Node-level facts for /api/nodes and the metrics. */
export interface NodeFacts {
  readonly memoryUsed: number;
  readonly memoryLimit: number;
  readonly memoryAlarm: boolean;
  readonly diskFree: number;
  readonly diskFreeLimit: number;
  readonly diskFreeAlarm: boolean;
  readonly fdUsed: number;
  readonly fdTotal: number;
  readonly socketsUsed: number;
  readonly uptimeMs: number;
  readonly processors: number;
}

/** A cluster member as the leader sees it (src/cluster fills it in). */
export interface ClusterMemberView {
  /** The node's cluster name (--node-name). */
  readonly node: string;
  readonly role: 'leader' | 'follower';
  readonly connected: boolean;
  readonly inSync: boolean;
  /** Bytes sent to it that it has not acknowledged yet. */
  readonly lagBytes: number;
  /** Seconds since the oldest unacknowledged change was sent (0 when caught up). */
  readonly lagSeconds: number;
}

/** The cluster, when this broker is a cluster leader. */
export interface ClusterView {
  readonly members: readonly ClusterMemberView[];
}

/**
 * What the management API and the metrics need from the broker: read-only
 * views of the model, and the few commands the model offers. The Broker
 * implements it; src/http never reaches past it.
 */
export interface ManagementBackend {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  readonly vhosts: ReadonlyMap<string, VirtualHost>;
  /** Users, permissions and topic permissions (read them here; change them through the methods below). */
  readonly access: AccessControl;
  readonly statistics: Statistics;
  /** Policies, operator policies, vhost and user limits (read and changed here). */
  readonly settings: RuntimeSettings;
  /** RabbitMQ's node name ("warren@host"). */
  readonly nodeName: string;
  readonly clusterName: string;
  /** Connections opened and closed since start (for the metrics). */
  readonly connectionsOpened: number;
  readonly connectionsClosed: number;
  /** Failed-login damping per address, shared by the AMQP listener and the HTTP API. */
  readonly loginThrottle: LoginThrottle;
  connectionSnapshots(): ConnectionSnapshot[];
  /** Resolves once every definition change made so far is durable (a write request is answered after it, as declare-ok is). */
  whenDefinitionsDurable(): Promise<void>;
  /** Closes the named connection with 320 CONNECTION_FORCED and `reason`; false when there is none. */
  closeConnection(name: string, reason: string): boolean;
  listeners(): Listener[];
  listVhosts(): VhostInfo[];
  /** Everything defined, in RabbitMQ's definitions format. */
  exportDefinitions(): Record<string, unknown>;
  /** Imports RabbitMQ-format definitions (merging as RabbitMQ does); a bad document throws and changes nothing. */
  importDefinitions(definitions: Record<string, unknown>): void;
  createVhost(name: string, options: { description?: string; tags?: string[] }): void;
  deleteVhost(name: string): Promise<boolean>;
  addUser(name: string, password: string | null, tags: string[]): void;
  deleteUser(name: string): Promise<boolean>;
  setPermissions(user: string, vhost: string, p: Pick<PermissionRecord, 'configure' | 'write' | 'read'>): void;
  clearPermissions(user: string, vhost: string): void;
  setTopicPermissions(user: string, vhost: string, exchange: string, p: Pick<TopicPermissionRecord, 'write' | 'read'>): void;
  clearTopicPermissions(user: string, vhost: string, exchange: string): void;
  nodeFacts(): Promise<NodeFacts>;
  /** The cluster this broker leads, or null on a single node. */
  clusterView(): ClusterView | null;
}
