/**
 * Policies and operator policies: validation, matching and resolution into a
 * queue's or exchange's effective settings, as RabbitMQ's rabbit_policy and
 * rabbit_queue_type_util:args_policy_lookup do.
 *
 * Resolution happens when a policy (or the object) changes, never per
 * message: the result replaces Queue.policy, which the hot path reads.
 *   - numeric limits (message-ttl, expires, max-length, max-length-bytes,
 *     delivery-limit): the lowest of the queue's argument, the policy and the
 *     operator policy (operator policies cap);
 *   - the others (overflow, dead-letter-*, alternate-exchange): the queue's or
 *     exchange's own argument wins over the policy; for overflow an operator
 *     policy's value wins over the user policy's.
 * Keys RabbitMQ recognises but Warren does not act on (ha-*, queue-mode, …)
 * are validated, kept and shown by policy-compat.ts's rules, and resolve to
 * nothing.
 */
import type { FieldTable } from '../protocol/index.js';
import type { Overflow, QueuePolicy } from './queue-arguments.js';
import { erlangTerm } from './erlang-term.js';
import { checkBuiltinCompatKey, checkOtherModules, compatKeys, mergeCompatValue, ownedByOtherModule } from './policy-compat.js';

export { erlangTerm };

/** RabbitMQ 3.13's apply-to values. Warren has no streams: a policy for `streams` matches nothing (but imports). */
export type PolicyApplyTo = 'queues' | 'exchanges' | 'all' | 'classic_queues' | 'quorum_queues' | 'streams';
export const POLICY_APPLY_TO: readonly PolicyApplyTo[] = ['queues', 'exchanges', 'all', 'classic_queues', 'quorum_queues', 'streams'];

export type PolicyKind = 'policy' | 'operator-policy';
/** A definition value: numbers and strings, and lists of strings (ha-params for ha-mode nodes, see policy-compat.ts). */
export type PolicyValue = string | number | readonly string[];
export type PolicyDefinition = Record<string, PolicyValue>;

export interface PolicyRecord {
  readonly vhost: string;
  readonly name: string;
  readonly pattern: string;
  readonly applyTo: PolicyApplyTo;
  readonly priority: number;
  readonly definition: PolicyDefinition;
}

/** What a queue offers to have policies applied (structural: no import of queue.ts, which imports this module). */
export interface PolicyQueue {
  readonly name: string;
  readonly arguments: FieldTable;
  readonly declaredPolicy: QueuePolicy;
  applyPolicy(settings: QueuePolicy, applied: AppliedPolicy): void;
}

export interface PolicyExchange {
  readonly name: string;
  applyPolicy(policy: string | null, alternate: string | undefined): void;
}

/** The names of the policies in force on a queue or exchange, and the merged definition. */
export interface AppliedPolicy {
  readonly policy: string | null;
  readonly operatorPolicy: string | null;
  readonly effective: PolicyDefinition;
}

export const NO_POLICY: AppliedPolicy = Object.freeze({ policy: null, operatorPolicy: null, effective: Object.freeze({}) });

const NUMERIC_KEYS = ['message-ttl', 'expires', 'max-length', 'max-length-bytes', 'delivery-limit'] as const;
type NumericKey = (typeof NUMERIC_KEYS)[number];
const STRING_KEYS = ['overflow', 'dead-letter-exchange', 'dead-letter-routing-key', 'alternate-exchange'] as const;
/** The keys Warren acts on. RabbitMQ's operator policies accept only the numeric limits of these (3.13: no overflow, no dead-lettering). */
const IMPLEMENTED_OPERATOR_KEYS: readonly string[] = [...NUMERIC_KEYS];
const IMPLEMENTED_USER_KEYS: readonly string[] = [...NUMERIC_KEYS, ...STRING_KEYS];
/** Everything RabbitMQ 3.13 recognises: the implemented keys plus those accepted for compatibility (policy-compat.ts). */
const OPERATOR_KEYS: readonly string[] = [...IMPLEMENTED_OPERATOR_KEYS, ...compatKeys('operator-policy')];
const USER_KEYS: readonly string[] = [...IMPLEMENTED_USER_KEYS, ...compatKeys('policy')];

const NUMERIC_FIELD: Record<NumericKey, 'messageTtl' | 'expires' | 'maxLength' | 'maxLengthBytes' | 'deliveryLimit'> = {
  'message-ttl': 'messageTtl',
  expires: 'expires',
  'max-length': 'maxLength',
  'max-length-bytes': 'maxLengthBytes',
  'delivery-limit': 'deliveryLimit',
};

/** The texts of rabbit_policies:validate_policy0 for a bad value. */
const BAD_VALUE: Record<string, string> = {
  'message-ttl': 'is not a valid message TTL',
  expires: 'is not a valid queue expiry',
  'max-length': 'is not a valid maximum length',
  'max-length-bytes': 'is not a valid maximum length in bytes',
  'delivery-limit': 'is not a valid delivery limit',
  overflow: 'is not a valid overflow value',
  'dead-letter-exchange': 'is not a valid dead letter exchange name',
  'dead-letter-routing-key': 'is not a valid dead letter routing key',
  'alternate-exchange': 'is not a valid alternate exchange name',
};

/**
 * Checks a definition as rabbit_policy validates one; null when valid, else
 * the reason (without RabbitMQ's "Validation failed" framing, see
 * policyValidationText).
 */
export function validatePolicyDefinition(definition: unknown, kind: PolicyKind): string | null {
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition)) return `definition must be a dictionary: ${erlangTerm(definition)}`;
  // Erlang's maps:to_list order (keys sorted), in which rabbit_policy validates and lists them.
  const entries = Object.entries(definition as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return 'no policy provided';
  const known = kind === 'operator-policy' ? OPERATOR_KEYS : USER_KEYS;
  // As rabbit_policy:validation0: the recognised keys' values first (the first bad one is the
  // answer), and only when they are all valid, the keys nobody recognised. rabbit_policies'
  // keys one at a time, then the other modules' groups (policy-compat.ts).
  for (const [key, v] of entries) {
    if (!known.includes(key) || ownedByOtherModule(key)) continue;
    const compat = checkBuiltinCompatKey(key, v);
    if (compat !== undefined) {
      if (compat !== null) return compat;
    } else if ((NUMERIC_KEYS as readonly string[]).includes(key)) {
      const ok = typeof v === 'number' && Number.isInteger(v) && v >= 0 && !(key === 'expires' && v === 0);
      if (!ok) return `${erlangTerm(v)} ${BAD_VALUE[key]}`;
    } else if (key === 'overflow') {
      if (v !== 'drop-head' && v !== 'reject-publish' && v !== 'reject-publish-dlx') return `${erlangTerm(v)} ${BAD_VALUE[key]}`;
    } else if (typeof v !== 'string') {
      return `${erlangTerm(v)} ${BAD_VALUE[key]}`;
    }
  }
  const other = checkOtherModules(definition as Record<string, unknown>, known);
  if (other !== null) return other;
  const unknown = entries.filter(([k]) => !known.includes(k));
  if (unknown.length > 0) return `[${unknown.map(([k, v]) => `{${erlangTerm(k)},${erlangTerm(v)}}`).join(',')}] are not recognised policy settings`;
  return null;
}

/**
 * The HTTP API's 400 reason for an invalid policy (rabbit_mgmt_wm_policy →
 * rabbit_policy:set → rabbit_runtime_parameters:format_error): every failed
 * check, a line each.
 */
export function policyValidationText(...reasons: string[]): string {
  return `Validation failed\n\n${reasons.map((r) => `${r}\n`).join('')}`;
}

/** Compiles a policy pattern; null if it is not a valid regular expression. */
export function compilePattern(pattern: string): RegExp | null {
  try {
    return new RegExp(pattern);
  } catch {
    return null;
  }
}

interface CompiledPolicy {
  readonly record: PolicyRecord;
  readonly regex: RegExp;
}

function appliesTo(applyTo: PolicyApplyTo, kind: 'queue' | 'exchange', queueType: string): boolean {
  switch (applyTo) {
    case 'all':
      return true;
    case 'exchanges':
      return kind === 'exchange';
    case 'queues':
      return kind === 'queue';
    case 'classic_queues':
      return kind === 'queue' && queueType === 'classic';
    case 'quorum_queues':
      return kind === 'queue' && queueType === 'quorum';
    case 'streams':
      return kind === 'queue' && queueType === 'stream';
  }
}

/** The policies of one vhost (user and operator), and their application to its queues and exchanges. */
export class VhostPolicies {
  private readonly byKind: Record<PolicyKind, Map<string, CompiledPolicy>> = { policy: new Map(), 'operator-policy': new Map() };

  list(kind: PolicyKind): PolicyRecord[] {
    return [...this.byKind[kind].values()].map((p) => p.record);
  }

  get(kind: PolicyKind, name: string): PolicyRecord | undefined {
    return this.byKind[kind].get(name)?.record;
  }

  /** Adds or replaces a policy (already validated); true when it is new. */
  put(kind: PolicyKind, record: PolicyRecord): boolean {
    const regex = compilePattern(record.pattern);
    if (!regex) throw new Error(`invalid policy pattern ${record.pattern}`);
    const existed = this.byKind[kind].has(record.name);
    this.byKind[kind].set(record.name, { record, regex });
    return !existed;
  }

  delete(kind: PolicyKind, name: string): boolean {
    return this.byKind[kind].delete(name);
  }

  /** The highest-priority matching policy of a kind (ties: the first defined, by name). */
  private match(kind: PolicyKind, objectKind: 'queue' | 'exchange', name: string, queueType: string): PolicyRecord | null {
    let best: PolicyRecord | null = null;
    for (const { record, regex } of this.byKind[kind].values()) {
      if (!appliesTo(record.applyTo, objectKind, queueType) || !regex.test(name)) continue;
      if (best === null || record.priority > best.priority || (record.priority === best.priority && record.name < best.name)) best = record;
    }
    return best;
  }

  /** Resolves and installs the policies in force on a queue. */
  applyToQueue(q: PolicyQueue): void {
    const type = q.declaredPolicy.type;
    const policy = this.match('policy', 'queue', q.name, type);
    const operator = this.match('operator-policy', 'queue', q.name, type);
    const effective = mergeDefinitions(policy?.definition, operator?.definition);
    const applied: AppliedPolicy = policy === null && operator === null ? NO_POLICY : { policy: policy?.name ?? null, operatorPolicy: operator?.name ?? null, effective };
    q.applyPolicy(resolveQueueSettings(q.declaredPolicy, q.arguments['x-overflow'] !== undefined, policy?.definition ?? {}, operator?.definition ?? {}), applied);
  }

  /** Resolves and installs the policy in force on an exchange (its alternate exchange). */
  applyToExchange(x: PolicyExchange): void {
    if (x.name === '') return; // the default exchange takes no policy
    const policy = this.match('policy', 'exchange', x.name, '');
    const ae = policy?.definition['alternate-exchange'];
    x.applyPolicy(policy?.name ?? null, typeof ae === 'string' ? ae : undefined);
  }

  applyToAll(queues: Iterable<PolicyQueue>, exchanges: Iterable<PolicyExchange>): void {
    for (const q of queues) this.applyToQueue(q);
    for (const x of exchanges) this.applyToExchange(x);
  }
}

/** A policy's definition merged with an operator policy's: the lower numeric limit wins, the operator's overflow wins. */
function mergeDefinitions(policy: PolicyDefinition | undefined, operator: PolicyDefinition | undefined): PolicyDefinition {
  const out: PolicyDefinition = { ...(policy ?? {}) };
  for (const [k, v] of Object.entries(operator ?? {})) {
    const own = out[k];
    if (own === undefined) out[k] = v;
    else out[k] = (mergeCompatValue(k, own, v) as PolicyValue | undefined) ?? (typeof own === 'number' && typeof v === 'number' ? Math.min(own, v) : v);
  }
  return out;
}

const minDefined = (...values: (number | undefined)[]): number | undefined => {
  let m: number | undefined;
  for (const v of values) if (v !== undefined && (m === undefined || v < m)) m = v;
  return m;
};

const numberIn = (d: PolicyDefinition, key: string): number | undefined => (typeof d[key] === 'number' ? (d[key] as number) : undefined);
const stringIn = (d: PolicyDefinition, key: string): string | undefined => (typeof d[key] === 'string' ? (d[key] as string) : undefined);

/**
 * A queue's effective settings from its own arguments (`declared`), its
 * policy and its operator policy (args_policy_lookup's rules, see the top).
 */
export function resolveQueueSettings(declared: QueuePolicy, overflowDeclared: boolean, policy: PolicyDefinition, operator: PolicyDefinition): QueuePolicy {
  const out: QueuePolicy = { ...declared };
  for (const key of NUMERIC_KEYS) {
    const field = NUMERIC_FIELD[key];
    out[field] = minDefined(declared[field], numberIn(policy, key), numberIn(operator, key));
  }
  if (!overflowDeclared) out.overflow = (stringIn(operator, 'overflow') ?? stringIn(policy, 'overflow') ?? declared.overflow) as Overflow;
  out.deadLetterExchange = declared.deadLetterExchange ?? stringIn(policy, 'dead-letter-exchange');
  out.deadLetterRoutingKey = declared.deadLetterRoutingKey ?? stringIn(policy, 'dead-letter-routing-key');
  return out;
}
