import { seg, usageError } from './client.js';
import type { Command, CtlContext } from './command.js';
import { banner, printRows, type Row } from './output.js';

type Item = Record<string, unknown>;
type Getter = (item: Item) => unknown;

/**
 * One rabbitmqctl list command over a management API list: the columns it
 * knows (rabbitmqctl's info keys that Warren can answer, each read from the
 * API's JSON), the ones shown by default, and the API path.
 */
export interface ListSpec {
  readonly name: string;
  readonly summary: string;
  readonly banner: (vhost: string) => string;
  readonly path: (vhost: string) => string;
  readonly defaults: readonly string[];
  readonly columns: Readonly<Record<string, Getter>>;
}

/** Columns whose API field has the same name. */
const same = (...names: string[]): Record<string, Getter> => Object.fromEntries(names.map((n) => [n, (i: Item) => i[n]]));
const nested = (outer: string, inner: string): Getter => (i) => (i[outer] as Item | undefined)?.[inner];

const SPECS: readonly ListSpec[] = [
  {
    name: 'list_queues',
    summary: 'queues and their message counts',
    banner: (v) => `Listing queues for vhost ${v} ...`,
    path: (v) => `/api/queues/${seg(v)}`,
    defaults: ['name', 'messages'],
    columns: {
      ...same('name', 'vhost', 'durable', 'auto_delete', 'exclusive', 'arguments', 'type', 'state', 'policy', 'operator_policy', 'effective_policy_definition'),
      ...same('messages', 'messages_ready', 'messages_unacknowledged', 'messages_ram', 'messages_paged_out', 'message_bytes', 'message_bytes_ready', 'message_bytes_unacknowledged', 'message_bytes_ram', 'message_bytes_paged_out'),
      ...same('consumers', 'consumer_utilisation', 'consumer_capacity', 'exclusive_consumer_tag', 'single_active_consumer_tag', 'head_message_timestamp', 'memory', 'node', 'idle_since'),
      messages_ready_ram: (i) => i.messages_ram,
    },
  },
  {
    name: 'list_exchanges',
    summary: 'exchanges',
    banner: (v) => `Listing exchanges for vhost ${v} ...`,
    path: (v) => `/api/exchanges/${seg(v)}`,
    defaults: ['name', 'type'],
    columns: same('name', 'vhost', 'type', 'durable', 'auto_delete', 'internal', 'arguments', 'policy'),
  },
  {
    name: 'list_bindings',
    summary: 'bindings',
    banner: (v) => `Listing bindings for vhost ${v} ...`,
    path: (v) => `/api/bindings/${seg(v)}`,
    defaults: ['source_name', 'source_kind', 'destination_name', 'destination_kind', 'routing_key', 'arguments'],
    columns: {
      source_name: (i) => i.source,
      source_kind: () => 'exchange',
      destination_name: (i) => i.destination,
      destination_kind: (i) => i.destination_type,
      ...same('routing_key', 'arguments', 'vhost', 'properties_key'),
    },
  },
  {
    name: 'list_connections',
    summary: 'client connections (every vhost)',
    banner: () => 'Listing connections ...',
    path: () => '/api/connections',
    defaults: ['user', 'peer_host', 'peer_port', 'state'],
    columns: {
      ...same('name', 'user', 'vhost', 'peer_host', 'peer_port', 'host', 'port', 'state', 'ssl', 'ssl_protocol', 'ssl_cipher', 'protocol', 'auth_mechanism', 'channels', 'channel_max', 'frame_max', 'timeout'),
      ...same('client_properties', 'connected_at', 'recv_oct', 'recv_cnt', 'send_oct', 'send_cnt', 'send_pend', 'user_provided_name', 'type', 'node', 'peer_cert_subject', 'peer_cert_issuer', 'peer_cert_validity'),
      // Warren has no Erlang pids: a connection is known by its name (what close_connection takes).
      pid: (i) => i.name,
    },
  },
  {
    name: 'list_channels',
    summary: 'channels (every vhost)',
    banner: () => 'Listing channels ...',
    path: () => '/api/channels',
    defaults: ['pid', 'user', 'consumer_count', 'messages_unacknowledged'],
    columns: {
      ...same('name', 'number', 'user', 'vhost', 'state', 'transactional', 'confirm', 'consumer_count', 'messages_unacknowledged', 'messages_unconfirmed', 'messages_uncommitted', 'acks_uncommitted', 'prefetch_count', 'global_prefetch_count', 'node'),
      pid: (i) => i.name,
      connection: nested('connection_details', 'name'),
    },
  },
  {
    name: 'list_consumers',
    summary: 'consumers',
    banner: (v) => `Listing consumers in vhost ${v} ...`,
    path: (v) => `/api/consumers/${seg(v)}`,
    defaults: ['queue_name', 'channel_pid', 'consumer_tag', 'ack_required', 'prefetch_count', 'active', 'activity_status', 'arguments'],
    columns: {
      queue_name: nested('queue', 'name'),
      channel_pid: nested('channel_details', 'name'),
      connection: nested('channel_details', 'connection_name'),
      ...same('consumer_tag', 'ack_required', 'prefetch_count', 'active', 'activity_status', 'arguments', 'exclusive', 'consumer_timeout'),
    },
  },
  {
    name: 'list_users',
    summary: 'users and their tags',
    banner: () => 'Listing users ...',
    path: () => '/api/users',
    defaults: ['user', 'tags'],
    columns: { user: (i) => i.name, tags: (i) => i.tags },
  },
  {
    name: 'list_vhosts',
    summary: 'virtual hosts',
    banner: () => 'Listing vhosts ...',
    path: () => '/api/vhosts',
    defaults: ['name'],
    columns: { ...same('name', 'description', 'tags', 'tracing', 'default_queue_type', 'messages', 'messages_ready', 'messages_unacknowledged') },
  },
  {
    name: 'list_permissions',
    summary: 'user permissions in a vhost',
    banner: (v) => `Listing permissions for vhost "${v}" ...`,
    path: (v) => `/api/vhosts/${seg(v)}/permissions`,
    defaults: ['user', 'configure', 'write', 'read'],
    columns: same('user', 'configure', 'write', 'read', 'vhost'),
  },
  {
    name: 'list_topic_permissions',
    summary: 'topic permissions in a vhost',
    banner: (v) => `Listing topic permissions for vhost "${v}" ...`,
    path: (v) => `/api/vhosts/${seg(v)}/topic-permissions`,
    defaults: ['user', 'exchange', 'write', 'read'],
    columns: same('user', 'exchange', 'write', 'read', 'vhost'),
  },
];

/** The requested columns, checked against the ones the command knows (exit 2 naming the unknown one). */
function chooseColumns(spec: ListSpec, requested: readonly string[]): readonly string[] {
  if (requested.length === 0) return spec.defaults;
  for (const c of requested) {
    if (!(c in spec.columns)) throw usageError(`${spec.name}: unknown column '${c}' (known: ${Object.keys(spec.columns).join(' ')})`);
  }
  return requested;
}

async function runList(spec: ListSpec, ctx: CtlContext, args: readonly string[]): Promise<void> {
  const columns = chooseColumns(spec, args);
  const notFound = `virtual host '${ctx.vhost}' does not exist`;
  const items = (await ctx.api.expect('GET', spec.path(ctx.vhost), { notFound })) as Item[];
  banner(ctx.out, spec.banner(ctx.vhost));
  const rows: Row[] = items.map((item) => Object.fromEntries(columns.map((c) => [c, spec.columns[c]!(item) ?? null])));
  printRows(ctx.out, columns, rows);
}

/** A rabbitmqctl list command over one management API list. */
export const listCommand = (spec: ListSpec): Command => ({
  name: spec.name,
  args: '[<column> ...]',
  summary: spec.summary,
  details: `columns: ${Object.keys(spec.columns).join(' ')}\ndefault: ${spec.defaults.join(' ')}`,
  arity: [0, Infinity] as const,
  options: [],
  run: (ctx, args) => runList(spec, ctx, args),
});

export const LIST_COMMANDS: readonly Command[] = SPECS.map(listCommand);
