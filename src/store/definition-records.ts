/**
 * Reading one line of the definitions journal: JSON whose `op` is a known
 * record type carrying every field that type needs, with the right JSON type.
 * A line that is not such a record cannot be applied; start-up logs it and
 * goes on without it rather than refusing to start (see DefinitionsJournal.open).
 */

type FieldKind = 'string' | 'number' | 'boolean' | 'strings';

const NAMED = { name: 'string' } as const;
const PERMISSION = { user: 'string', vhost: 'string' } as const;
const BINDING = { vhost: 'string', source: 'string', kind: 'string', destination: 'string', routingKey: 'string', args: 'string' } as const;

/** The fields of each record type (as DefinitionsJournal writes them). */
const RECORD_FIELDS: Readonly<Record<string, Readonly<Record<string, FieldKind>>>> = {
  'queue-ids': { next: 'number' },
  exchange: { vhost: 'string', name: 'string', type: 'string', autoDelete: 'boolean', internal: 'boolean', args: 'string' },
  'exchange-delete': { vhost: 'string', name: 'string' },
  queue: { vhost: 'string', name: 'string', id: 'number', autoDelete: 'boolean', args: 'string' },
  'queue-delete': { vhost: 'string', name: 'string' },
  bind: BINDING,
  unbind: BINDING,
  user: { name: 'string', hash: 'string', algorithm: 'string', tags: 'strings' },
  'user-delete': NAMED,
  vhost: { name: 'string', description: 'string', tags: 'strings' },
  'vhost-delete': NAMED,
  permission: { ...PERMISSION, configure: 'string', write: 'string', read: 'string' },
  'permission-delete': PERMISSION,
  'topic-permission': { ...PERMISSION, exchange: 'string', write: 'string', read: 'string' },
  'topic-permission-delete': { ...PERMISSION, exchange: 'string' },
  setting: { kind: 'string', vhost: 'string', name: 'string', value: 'string' },
  'setting-delete': { kind: 'string', vhost: 'string', name: 'string' },
};

const SETTING_KINDS = ['policy', 'operator-policy', 'vhost-limits', 'user-limits'];

function hasKind(v: unknown, kind: FieldKind): boolean {
  if (kind === 'strings') return Array.isArray(v) && v.every((s) => typeof s === 'string');
  if (kind === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeof v === kind;
}

/** Parses a journal line; throws an Error saying what is wrong with it. */
export function parseDefinitionRecord(line: string): { op: string } & Record<string, unknown> {
  const record: unknown = JSON.parse(line);
  if (!record || typeof record !== 'object' || Array.isArray(record)) throw new Error('not a JSON object');
  const op = (record as { op?: unknown }).op;
  const fields = typeof op === 'string' && Object.prototype.hasOwnProperty.call(RECORD_FIELDS, op) ? RECORD_FIELDS[op]! : null;
  if (!fields) throw new Error(`unknown record type ${JSON.stringify(op)}`);
  for (const [field, kind] of Object.entries(fields)) {
    if (!hasKind((record as Record<string, unknown>)[field], kind)) throw new Error(`${op} record: '${field}' is missing or not a ${kind === 'strings' ? 'list of strings' : kind}`);
  }
  if ((op === 'bind' || op === 'unbind') && (record as { kind: string }).kind !== 'queue' && (record as { kind: string }).kind !== 'exchange') {
    throw new Error(`${op} record: 'kind' must be 'queue' or 'exchange'`);
  }
  if ((op === 'setting' || op === 'setting-delete') && !SETTING_KINDS.includes((record as { kind: string }).kind)) {
    throw new Error(`${op} record: unknown kind ${JSON.stringify((record as { kind: string }).kind)}`);
  }
  return record as { op: string } & Record<string, unknown>;
}
