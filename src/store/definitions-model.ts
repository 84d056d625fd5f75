/**
 * What the definitions journal records and the model it rebuilds: one Op per
 * line (a declaration or a deletion), applied in order to Definitions; and
 * the compacted form (snapshotLines) that start-up writes back.
 *
 * Arguments tables are stored as base64 AMQP field-table bytes, so every
 * value type (int widths, decimals, timestamps, byte arrays) survives exactly.
 */
import { ByteWriter, Cursor, decodeTable, encodeTable, type FieldTable } from '../protocol/index.js';

export interface ExchangeDef {
  name: string;
  type: string;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

export interface QueueDef {
  name: string;
  /** Stable id used by the message log (names can be reused after a delete). */
  id: number;
  autoDelete: boolean;
  arguments: FieldTable;
}

export interface BindingDef {
  source: string;
  kind: 'queue' | 'exchange';
  destination: string;
  routingKey: string;
  arguments: FieldTable;
}

export interface VhostDefs {
  exchanges: Map<string, ExchangeDef>;
  queues: Map<string, QueueDef>;
  bindings: BindingDef[];
}

/** A user as stored: RabbitMQ's hash format, never a password. */
export interface UserDef {
  name: string;
  hash: string;
  algorithm: string;
  tags: string[];
}

export interface VhostMeta {
  name: string;
  description: string;
  tags: string[];
}

export interface PermissionDef {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

export interface TopicPermissionDef {
  user: string;
  vhost: string;
  exchange: string;
  write: string;
  read: string;
}

/** Users, vhosts and permissions (`known` once any such record was ever written: the directory is not fresh). */
export interface AuthDefs {
  known: boolean;
  users: Map<string, UserDef>;
  vhosts: Map<string, VhostMeta>;
  /** Keyed user NUL vhost. */
  permissions: Map<string, PermissionDef>;
  /** Keyed user NUL vhost NUL exchange. */
  topicPermissions: Map<string, TopicPermissionDef>;
}

/** What runtime settings a SettingDef holds (RabbitMQ keeps them as runtime parameters). */
export type SettingKind = 'policy' | 'operator-policy' | 'vhost-limits' | 'user-limits';

/** A policy, operator policy or limits record: `value` is its JSON (user limits: vhost '', name = the user). */
export interface SettingDef {
  kind: SettingKind;
  vhost: string;
  name: string;
  value: string;
}

export interface Definitions {
  vhosts: Map<string, VhostDefs>;
  /** Policies and limits, keyed kind NUL vhost NUL name. */
  settings: Map<string, SettingDef>;
  auth: AuthDefs;
  /** The next queue id to hand out (never reused). */
  nextQueueId: number;
}

export type Op =
  | { op: 'exchange'; vhost: string; name: string; type: string; autoDelete: boolean; internal: boolean; args: string }
  | { op: 'exchange-delete'; vhost: string; name: string }
  | { op: 'queue'; vhost: string; name: string; id: number; autoDelete: boolean; args: string }
  | { op: 'queue-delete'; vhost: string; name: string }
  | { op: 'queue-ids'; next: number }
  | { op: 'bind' | 'unbind'; vhost: string; source: string; kind: 'queue' | 'exchange'; destination: string; routingKey: string; args: string }
  | ({ op: 'user' } & UserDef)
  | { op: 'user-delete'; name: string }
  | ({ op: 'vhost' } & VhostMeta)
  | { op: 'vhost-delete'; name: string }
  | ({ op: 'permission' } & PermissionDef)
  | { op: 'permission-delete'; user: string; vhost: string }
  | ({ op: 'topic-permission' } & TopicPermissionDef)
  | { op: 'topic-permission-delete'; user: string; vhost: string; exchange: string }
  | ({ op: 'setting' } & SettingDef)
  | { op: 'setting-delete'; kind: SettingKind; vhost: string; name: string };

const settingKey = (kind: string, vhost: string, name: string): string => `${kind}\u0000${vhost}\u0000${name}`;

/** Applies a policy/limits record (and drops the settings of a deleted vhost or user); false for other ops. */
function applySetting(defs: Definitions, op: Op): boolean {
  switch (op.op) {
    case 'setting':
      defs.settings.set(settingKey(op.kind, op.vhost, op.name), { kind: op.kind, vhost: op.vhost, name: op.name, value: op.value });
      return true;
    case 'setting-delete':
      defs.settings.delete(settingKey(op.kind, op.vhost, op.name));
      return true;
    case 'vhost-delete':
      for (const [k, x] of defs.settings) if (x.kind !== 'user-limits' && x.vhost === op.name) defs.settings.delete(k);
      return false;
    case 'user-delete':
      defs.settings.delete(settingKey('user-limits', '', op.name));
      return false;
    default:
      return false;
  }
}

const permissionKey = (user: string, vhost: string): string => `${user}\u0000${vhost}`;
const topicKey = (user: string, vhost: string, exchange: string): string => `${user}\u0000${vhost}\u0000${exchange}`;

/** Applies a user/vhost/permission record; false for other ops. */
function applyAuth(defs: Definitions, op: Op): boolean {
  const a = defs.auth;
  switch (op.op) {
    case 'user':
      a.users.set(op.name, { name: op.name, hash: op.hash, algorithm: op.algorithm, tags: op.tags });
      break;
    case 'user-delete':
      a.users.delete(op.name);
      for (const [k, p] of a.permissions) if (p.user === op.name) a.permissions.delete(k);
      for (const [k, t] of a.topicPermissions) if (t.user === op.name) a.topicPermissions.delete(k);
      break;
    case 'vhost':
      a.vhosts.set(op.name, { name: op.name, description: op.description, tags: op.tags });
      break;
    case 'vhost-delete':
      a.vhosts.delete(op.name);
      defs.vhosts.delete(op.name);
      for (const [k, p] of a.permissions) if (p.vhost === op.name) a.permissions.delete(k);
      for (const [k, t] of a.topicPermissions) if (t.vhost === op.name) a.topicPermissions.delete(k);
      break;
    case 'permission':
      a.permissions.set(permissionKey(op.user, op.vhost), { user: op.user, vhost: op.vhost, configure: op.configure, write: op.write, read: op.read });
      break;
    case 'permission-delete':
      a.permissions.delete(permissionKey(op.user, op.vhost));
      break;
    case 'topic-permission':
      a.topicPermissions.set(topicKey(op.user, op.vhost, op.exchange), { user: op.user, vhost: op.vhost, exchange: op.exchange, write: op.write, read: op.read });
      break;
    case 'topic-permission-delete':
      a.topicPermissions.delete(topicKey(op.user, op.vhost, op.exchange));
      break;
    default:
      return false;
  }
  a.known = true;
  return true;
}

export const encodeArgs = (t: FieldTable): string => {
  const w = new ByteWriter(256);
  encodeTable(w, t);
  return Buffer.from(w.take()).toString('base64');
};
const decodeArgs = (s: string): FieldTable => decodeTable(new Cursor(Buffer.from(s, 'base64')));

const sameBinding = (a: BindingDef, b: BindingDef): boolean =>
  a.source === b.source && a.kind === b.kind && a.destination === b.destination && a.routingKey === b.routingKey && encodeArgs(a.arguments) === encodeArgs(b.arguments);

function vhostOf(defs: Definitions, name: string): VhostDefs {
  let v = defs.vhosts.get(name);
  if (!v) defs.vhosts.set(name, (v = { exchanges: new Map(), queues: new Map(), bindings: [] }));
  return v;
}

export function apply(defs: Definitions, op: Op): void {
  if (op.op === 'queue-ids') {
    defs.nextQueueId = Math.max(defs.nextQueueId, op.next);
    return;
  }
  if (applySetting(defs, op) || applyAuth(defs, op) || !('vhost' in op)) return;
  const v = vhostOf(defs, op.vhost);
  switch (op.op) {
    case 'exchange':
      v.exchanges.set(op.name, { name: op.name, type: op.type, autoDelete: op.autoDelete, internal: op.internal, arguments: decodeArgs(op.args) });
      return;
    case 'exchange-delete':
      v.exchanges.delete(op.name);
      v.bindings = v.bindings.filter((b) => b.source !== op.name && !(b.kind === 'exchange' && b.destination === op.name));
      return;
    case 'queue':
      v.queues.set(op.name, { name: op.name, id: op.id, autoDelete: op.autoDelete, arguments: decodeArgs(op.args) });
      defs.nextQueueId = Math.max(defs.nextQueueId, op.id + 1);
      return;
    case 'queue-delete':
      v.queues.delete(op.name);
      v.bindings = v.bindings.filter((b) => !(b.kind === 'queue' && b.destination === op.name));
      return;
    case 'bind': {
      const b: BindingDef = { source: op.source, kind: op.kind, destination: op.destination, routingKey: op.routingKey, arguments: decodeArgs(op.args) };
      if (!v.bindings.some((x) => sameBinding(x, b))) v.bindings.push(b);
      return;
    }
    case 'unbind': {
      const b: BindingDef = { source: op.source, kind: op.kind, destination: op.destination, routingKey: op.routingKey, arguments: decodeArgs(op.args) };
      v.bindings = v.bindings.filter((x) => !sameBinding(x, b));
      return;
    }
  }
}

export function snapshotLines(defs: Definitions): string {
  // Queue ids are never reused (old log records may still name a deleted queue's id).
  const out: string[] = [JSON.stringify({ op: 'queue-ids', next: defs.nextQueueId } satisfies Op)];
  const a = defs.auth;
  for (const v of a.vhosts.values()) out.push(JSON.stringify({ op: 'vhost', ...v } satisfies Op));
  for (const u of a.users.values()) out.push(JSON.stringify({ op: 'user', ...u } satisfies Op));
  for (const p of a.permissions.values()) out.push(JSON.stringify({ op: 'permission', ...p } satisfies Op));
  for (const t of a.topicPermissions.values()) out.push(JSON.stringify({ op: 'topic-permission', ...t } satisfies Op));
  for (const x of defs.settings.values()) out.push(JSON.stringify({ op: 'setting', ...x } satisfies Op));
  for (const [vhost, v] of defs.vhosts) {
    for (const x of v.exchanges.values()) out.push(JSON.stringify({ op: 'exchange', vhost, name: x.name, type: x.type, autoDelete: x.autoDelete, internal: x.internal, args: encodeArgs(x.arguments) } satisfies Op));
    for (const q of v.queues.values()) out.push(JSON.stringify({ op: 'queue', vhost, name: q.name, id: q.id, autoDelete: q.autoDelete, args: encodeArgs(q.arguments) } satisfies Op));
    for (const b of v.bindings) out.push(JSON.stringify({ op: 'bind', vhost, source: b.source, kind: b.kind, destination: b.destination, routingKey: b.routingKey, args: encodeArgs(b.arguments) } satisfies Op));
  }
  return out.map((l) => `${l}\n`).join('');
}
