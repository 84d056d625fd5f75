/**
 * RabbitMQ's definitions format (what `GET /api/definitions` and
 * `rabbitmqctl export_definitions` write), read strictly: every problem is
 * reported with the JSON path of the offending value, before anything is
 * applied.
 */
import { defaultAlgorithmFor, isHashingAlgorithm, isWellFormedHash, type HashingAlgorithm } from '../auth/password.js';
import { compilePattern, PatternError } from '../auth/patterns.js';
import { isExchangeType } from '../broker/routing.js';
import { parseQueueArguments } from '../broker/queue-arguments.js';
import { AmqpError } from '../protocol/index.js';
import { mapFieldTree, type FieldTable } from '../protocol/index.js';

export class DefinitionsFormatError extends Error {
  constructor(readonly path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'DefinitionsFormatError';
  }
}

export interface UserIn { name: string; passwordHash: string; hashingAlgorithm: HashingAlgorithm; tags: string[]; password: string | null }
export interface VhostIn { name: string; description: string; tags: string[] }
export interface PermissionIn { user: string; vhost: string; configure: string; write: string; read: string }
export interface TopicPermissionIn { user: string; vhost: string; exchange: string; write: string; read: string }
export interface ExchangeIn { name: string; vhost: string; type: string; durable: boolean; autoDelete: boolean; internal: boolean; arguments: FieldTable; path: string }
export interface QueueIn { name: string; vhost: string; durable: boolean; autoDelete: boolean; arguments: FieldTable; path: string }
export interface BindingIn { source: string; vhost: string; destination: string; destinationType: 'queue' | 'exchange'; routingKey: string; arguments: FieldTable; path: string }

export interface ParsedDefinitions {
  users: UserIn[];
  vhosts: VhostIn[];
  permissions: PermissionIn[];
  topicPermissions: TopicPermissionIn[];
  exchanges: ExchangeIn[];
  queues: QueueIn[];
  bindings: BindingIn[];
  /** Present in the file but not applied (global parameters). */
  unapplied: Record<string, unknown[]>;
}

type Json = unknown;

const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const own = (o: Record<string, Json>, k: string): Json => (Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined);

function str(o: Record<string, Json>, key: string, path: string, fallback?: string): string {
  const v = own(o, key);
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') throw new DefinitionsFormatError(`${path}.${key}`, v === undefined ? 'missing (a string is required)' : `expected a string, got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v;
}

function bool(o: Record<string, Json>, key: string, path: string, fallback: boolean): boolean {
  const v = own(o, key);
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new DefinitionsFormatError(`${path}.${key}`, `expected true or false, got ${JSON.stringify(v)?.slice(0, 80)}`);
  return v;
}

function list(root: Record<string, Json>, key: string): Record<string, Json>[] {
  const v = own(root, key);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new DefinitionsFormatError(`$.${key}`, 'expected an array');
  v.forEach((item, i) => {
    if (!isObject(item)) throw new DefinitionsFormatError(`$.${key}[${i}]`, 'expected an object');
  });
  return v as Record<string, Json>[];
}

/** Tags as 3.13 writes them (an array) or as older versions did (a comma-separated string). */
function tags(o: Record<string, Json>, path: string): string[] {
  const v = own(o, 'tags');
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return v.split(',').map((t) => t.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((t) => typeof t === 'string')) return v as string[];
  throw new DefinitionsFormatError(`${path}.tags`, 'expected a string or an array of strings');
}

/** A JSON arguments object as an AMQP field table (JSON numbers, strings, booleans, arrays, objects). */
function table(o: Record<string, Json>, path: string): FieldTable {
  const v = own(o, 'arguments');
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new DefinitionsFormatError(`${path}.arguments`, 'expected an object');
  return toTable(v);
}

/** JSON objects and arrays as tables and arrays, at any depth (mapFieldTree does not recurse). */
function toTable(o: Record<string, Json>): FieldTable {
  return mapFieldTree(o, () => true, (v) => v) as FieldTable;
}

function pattern(o: Record<string, Json>, key: string, path: string, who: string): string {
  const p = str(o, key, path);
  try {
    compilePattern(p);
  } catch (err) {
    if (err instanceof PatternError) throw new DefinitionsFormatError(`${path}.${key}`, `${err.message} (${who})`);
    throw err;
  }
  return p;
}

/**
 * Validates a parsed JSON document. `exists` tells which users and vhosts
 * the broker already has, so references to them are accepted.
 */
export interface ExistingObjects {
  user(name: string): boolean;
  vhost(name: string): boolean;
  exchange(vhost: string, name: string): boolean;
  queue(vhost: string, name: string): boolean;
}

export function parseDefinitions(doc: Json, exists: ExistingObjects): ParsedDefinitions {
  if (!isObject(doc)) throw new DefinitionsFormatError('$', 'expected a JSON object');
  const versionValue = own(doc, 'rabbit_version') ?? own(doc, 'rabbitmq_version');
  const version = typeof versionValue === 'string' ? versionValue : undefined;

  const vhosts = list(doc, 'vhosts').map((v, i): VhostIn => {
    const path = `$.vhosts[${i}]`;
    const meta = isObject(own(v, 'metadata')) ? (own(v, 'metadata') as Record<string, Json>) : {};
    const description = typeof own(v, 'description') === 'string' ? (own(v, 'description') as string) : typeof own(meta, 'description') === 'string' ? (own(meta, 'description') as string) : '';
    return { name: str(v, 'name', path), description, tags: own(v, 'tags') !== undefined ? tags(v, path) : tags(meta, `${path}.metadata`) };
  });
  const vhostNames = new Set(vhosts.map((v) => v.name));
  const vhostKnown = (name: string): boolean => vhostNames.has(name) || exists.vhost(name);
  const needVhost = (name: string, path: string): void => {
    if (!vhostKnown(name)) throw new DefinitionsFormatError(`${path}.vhost`, `vhost '${name}' is neither in the file nor on the broker`);
  };

  const users = list(doc, 'users').map((u, i): UserIn => {
    const path = `$.users[${i}]`;
    const name = str(u, 'name', path);
    if (name === '') throw new DefinitionsFormatError(`${path}.name`, 'a user name cannot be empty');
    const algorithmValue = own(u, 'hashing_algorithm');
    let hashingAlgorithm: HashingAlgorithm;
    if (algorithmValue === undefined) hashingAlgorithm = defaultAlgorithmFor(version);
    else if (isHashingAlgorithm(algorithmValue)) hashingAlgorithm = algorithmValue;
    else throw new DefinitionsFormatError(`${path}.hashing_algorithm`, `unknown hashing algorithm ${JSON.stringify(algorithmValue)?.slice(0, 80)} for user '${name}' (known: rabbit_password_hashing_sha256, rabbit_password_hashing_sha512, rabbit_password_hashing_md5)`);
    const clear = own(u, 'password');
    let password: string | null = null;
    let passwordHash = '';
    if (own(u, 'password_hash') !== undefined) {
      passwordHash = str(u, 'password_hash', path);
      if (!isWellFormedHash(passwordHash, hashingAlgorithm)) throw new DefinitionsFormatError(`${path}.password_hash`, `not a ${hashingAlgorithm} hash (base64 of a 4-byte salt and the digest) for user '${name}'`);
    } else if (typeof clear === 'string') password = clear;
    return { name, passwordHash, hashingAlgorithm, tags: tags(u, path), password };
  });
  const userNames = new Set(users.map((u) => u.name));
  const needUser = (name: string, path: string): void => {
    if (!userNames.has(name) && !exists.user(name)) throw new DefinitionsFormatError(`${path}.user`, `user '${name}' is neither in the file nor on the broker`);
  };

  const permissions = list(doc, 'permissions').map((p, i): PermissionIn => {
    const path = `$.permissions[${i}]`;
    const user = str(p, 'user', path);
    const vhost = str(p, 'vhost', path);
    const who = `user '${user}', vhost '${vhost}'`;
    const r = { user, vhost, configure: pattern(p, 'configure', path, who), write: pattern(p, 'write', path, who), read: pattern(p, 'read', path, who) };
    needUser(user, path);
    needVhost(vhost, path);
    return r;
  });
  const topicPermissions = list(doc, 'topic_permissions').map((p, i): TopicPermissionIn => {
    const path = `$.topic_permissions[${i}]`;
    const user = str(p, 'user', path);
    const vhost = str(p, 'vhost', path);
    const exchange = str(p, 'exchange', path);
    const who = `user '${user}', vhost '${vhost}', exchange '${exchange}'`;
    const r = { user, vhost, exchange, write: pattern(p, 'write', path, who), read: pattern(p, 'read', path, who) };
    needUser(user, path);
    needVhost(vhost, path);
    return r;
  });
  const exchanges = list(doc, 'exchanges').map((x, i): ExchangeIn => {
    const path = `$.exchanges[${i}]`;
    const type = str(x, 'type', path);
    if (!isExchangeType(type)) throw new DefinitionsFormatError(`${path}.type`, `unknown exchange type '${type}'`);
    const r = { name: str(x, 'name', path), vhost: str(x, 'vhost', path), type, durable: bool(x, 'durable', path, true), autoDelete: bool(x, 'auto_delete', path, false), internal: bool(x, 'internal', path, false), arguments: table(x, path), path };
    needVhost(r.vhost, path);
    return r;
  });
  const queues = list(doc, 'queues').map((q, i): QueueIn => {
    const path = `$.queues[${i}]`;
    const r = { name: str(q, 'name', path), vhost: str(q, 'vhost', path), durable: bool(q, 'durable', path, true), autoDelete: bool(q, 'auto_delete', path, false), arguments: table(q, path), path };
    needVhost(r.vhost, path);
    try {
      parseQueueArguments(r.arguments, `queue '${r.name}' in vhost '${r.vhost}'`, { durable: r.durable, exclusive: false, autoDelete: r.autoDelete });
    } catch (err) {
      if (err instanceof AmqpError) throw new DefinitionsFormatError(`${path}.arguments`, err.replyText);
      throw err;
    }
    return r;
  });
  // Every vhost has the default and amq.* exchanges.
  const key = (vhost: string, name: string): string => `${vhost}\u0000${name}`;
  const fileExchanges = new Set(exchanges.map((x) => key(x.vhost, x.name)));
  const fileQueues = new Set(queues.map((q) => key(q.vhost, q.name)));
  const exchangeKnown = (vhost: string, name: string): boolean => name === '' || name.startsWith('amq.') || fileExchanges.has(key(vhost, name)) || exists.exchange(vhost, name);
  const queueKnown = (vhost: string, name: string): boolean => fileQueues.has(key(vhost, name)) || exists.queue(vhost, name);
  const bindings = list(doc, 'bindings').map((b, i): BindingIn => {
    const path = `$.bindings[${i}]`;
    const destinationType = str(b, 'destination_type', path);
    if (destinationType !== 'queue' && destinationType !== 'exchange') throw new DefinitionsFormatError(`${path}.destination_type`, `expected "queue" or "exchange", got '${destinationType}'`);
    const r = { source: str(b, 'source', path), vhost: str(b, 'vhost', path), destination: str(b, 'destination', path), destinationType: destinationType as 'queue' | 'exchange', routingKey: str(b, 'routing_key', path, ''), arguments: table(b, path), path };
    needVhost(r.vhost, path);
    if (!exchangeKnown(r.vhost, r.source)) throw new DefinitionsFormatError(`${path}.source`, `exchange '${r.source}' in vhost '${r.vhost}' is neither in the file nor on the broker`);
    const destinationKnown = r.destinationType === 'queue' ? queueKnown(r.vhost, r.destination) : exchangeKnown(r.vhost, r.destination);
    if (!destinationKnown) throw new DefinitionsFormatError(`${path}.destination`, `${r.destinationType} '${r.destination}' in vhost '${r.vhost}' is neither in the file nor on the broker`);
    return r;
  });
  const unapplied: Record<string, unknown[]> = {};
  // Policies, operator policies and limits are read by settings-definitions.ts.
  for (const key of ['global_parameters']) {
    const v = own(doc, key);
    if (Array.isArray(v) && v.length > 0) unapplied[key] = v;
  }
  return { users, vhosts, permissions, topicPermissions, exchanges, queues, bindings, unapplied };
}
