/**
 * Policy keys RabbitMQ 3.13 registers as validators but Warren does not act
 * on: classic queue mirroring (`ha-*`: Warren's availability is its etcd
 * cluster, not per-queue mirrors), classic queue modes and versions, quorum
 * queue and stream tuning, queue placement. A RabbitMQ export carrying them
 * (typically an `ha-all` policy) must import unchanged, so they are validated
 * with RabbitMQ's rules and texts, stored, exported and shown in a queue's
 * effective policy definition — and have no effect.
 *
 * Validation is grouped by the RabbitMQ module that owns the keys, because
 * rabbit_policy:validation0 hands each module only its own keys and stops at
 * the first module that answers an error:
 *   - rabbit_policies (one key at a time, in sorted key order): the keys
 *     below plus the ones Warren implements (see policies.ts);
 *   - rabbit_mirror_queue_misc: the ha-* keys, checked together;
 *   - rabbit_queue_location_validator: queue-master-locator;
 *   - rabbit_quorum_queue: target-group-size.
 * Federation keys (`federation-upstream`, `federation-upstream-set`) belong
 * to a plugin Warren does not have: like a RabbitMQ without the plugin, they
 * stay "not recognised".
 */
import { erlangTerm } from './erlang-term.js';

/** Which policies (policies.ts's PolicyKind, spelled out here to keep imports one-way). */
type PolicyKind = 'policy' | 'operator-policy';

type Check = (value: unknown) => string | null;

const isInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const nonNegative = (text: string): Check => (v) => (isInteger(v) && v >= 0 ? null : `${erlangTerm(v)} ${text}`);
const oneOf = (allowed: readonly unknown[], text: string): Check => (v) => (allowed.includes(v) ? null : `${erlangTerm(v)} ${text}`);

/** rabbit_amqqueue:check_max_age: a positive integer followed by one unit letter, e.g. "7D". */
const maxAge: Check = (v) => (typeof v === 'string' && /^[0-9]+[YMDhms]$/.test(v) && Number.parseInt(v, 10) > 0 ? null : `${erlangTerm(v)} is not a valid max age`);

/** rabbit_policies' validate_policy0 clauses for the keys Warren accepts without acting on them. */
const BUILTIN_CHECKS: Readonly<Record<string, Check>> = {
  'consumer-timeout': nonNegative('is not a valid consumer timeout'),
  'dead-letter-strategy': oneOf(['at-most-once', 'at-least-once'], 'is not a valid dead letter strategy'),
  'initial-cluster-size': nonNegative('is not a valid cluster size'),
  'max-age': maxAge,
  'max-in-memory-bytes': nonNegative('is not a valid maximum memory in bytes'),
  'max-in-memory-length': nonNegative('is not a valid maximum memory in bytes'),
  'queue-leader-locator': oneOf(['client-local', 'balanced', 'random', 'least-leaders'], 'is not a valid queue leader locator value'),
  'queue-mode': oneOf(['default', 'lazy'], 'is not a valid queue-mode value'),
  'queue-version': oneOf([1, 2], 'is not a valid queue-version value'),
  'stream-max-segment-size-bytes': nonNegative('is not a valid segment size'),
};

/** rabbit_policies' operator_policy_validator registrations among them. */
const BUILTIN_OPERATOR_KEYS: readonly string[] = ['max-in-memory-bytes', 'max-in-memory-length'];

const HA_KEYS: readonly string[] = ['ha-mode', 'ha-params', 'ha-sync-mode', 'ha-sync-batch-size', 'ha-promote-on-shutdown', 'ha-promote-on-failure'];
const HA_OPERATOR_KEYS: readonly string[] = ['ha-mode', 'ha-params', 'ha-sync-mode'];

/** Every key of this module a policy of that kind may carry. */
export function compatKeys(kind: PolicyKind): readonly string[] {
  if (kind === 'operator-policy') return [...BUILTIN_OPERATOR_KEYS, ...HA_OPERATOR_KEYS, 'target-group-size'];
  return [...Object.keys(BUILTIN_CHECKS), ...HA_KEYS, 'queue-master-locator', 'target-group-size'];
}

/** Whether a key is validated by a module other than rabbit_policies (see checkOtherModules). */
export function ownedByOtherModule(key: string): boolean {
  return HA_KEYS.includes(key) || key === 'queue-master-locator' || key === 'target-group-size';
}

/** rabbit_policies' check of one of the keys above; undefined when the key is not one of them. */
export function checkBuiltinCompatKey(key: string, value: unknown): string | null | undefined {
  const check = BUILTIN_CHECKS[key];
  return check === undefined ? undefined : check(value);
}

/** ha-params as each rabbit_mirror_queue_mode_* module validates it (`undefined`: not given, Erlang's `none`). */
function checkHaParams(mode: string, params: unknown): string | null {
  const given = params === undefined ? 'none' : erlangTerm(params);
  if (mode === 'all') return params === undefined ? null : 'ha-mode="all" does not take parameters';
  if (mode === 'exactly') return isInteger(params) && params > 0 ? null : `ha-mode="exactly" takes an integer, ${given} given`;
  // nodes
  if (!Array.isArray(params)) return `ha-mode="nodes" takes a list, ${given} given`;
  if (params.length === 0) return 'ha-mode="nodes" list must be non-empty';
  const invalid = params.filter((n) => typeof n !== 'string');
  return invalid.length === 0 ? null : `ha-mode="nodes" takes a list of strings, ${erlangTerm(invalid)} was not a string`;
}

const promotion = (key: string, v: unknown): string | null =>
  v === undefined || v === 'always' || v === 'when-synced' ? null : `${key} must be "always" or "when-synced", got ${erlangTerm(v)}`;

/** rabbit_mirror_queue_misc:validate_policy over the ha-* keys present (`scope`). */
function checkMirroring(scope: Readonly<Record<string, unknown>>): string | null {
  const mode = scope['ha-mode'];
  if (mode === undefined) return 'ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown';
  if (mode !== 'all' && mode !== 'exactly' && mode !== 'nodes') return `${erlangTerm(mode)} is not a valid ha-mode value`;
  const params = checkHaParams(mode, scope['ha-params']);
  if (params !== null) return params;
  const sync = scope['ha-sync-mode'];
  if (sync !== undefined && sync !== 'automatic' && sync !== 'manual') return `ha-sync-mode must be "manual" or "automatic", got ${erlangTerm(sync)}`;
  const batch = scope['ha-sync-batch-size'];
  if (batch !== undefined && !(isInteger(batch) && batch > 0)) return `ha-sync-batch-size takes an integer greater than 0, ${erlangTerm(batch)} given`;
  return promotion('ha-promote-on-shutdown', scope['ha-promote-on-shutdown']) ?? promotion('ha-promote-on-failure', scope['ha-promote-on-failure']);
}

/**
 * The checks of the modules other than rabbit_policies, in turn, over the
 * keys of theirs that `definition` carries (only those `known` for the
 * policy's kind); the first error, or null.
 */
export function checkOtherModules(definition: Readonly<Record<string, unknown>>, known: readonly string[]): string | null {
  const has = (k: string): boolean => known.includes(k) && definition[k] !== undefined;
  const ha = HA_KEYS.filter(has);
  if (ha.length > 0) {
    const bad = checkMirroring(Object.fromEntries(ha.map((k) => [k, definition[k]])));
    if (bad !== null) return bad;
  }
  if (has('queue-master-locator')) {
    const v = definition['queue-master-locator'];
    if (v !== 'min-masters' && v !== 'client-local' && v !== 'random') return `${erlangTerm(v)} invalid queue-master-locator value`;
  }
  if (has('target-group-size')) {
    const v = definition['target-group-size'];
    if (!(isInteger(v) && v > 0)) return `${erlangTerm(v)} is not a valid qq target count value`;
  }
  return null;
}

/** The keys of a definition that are accepted for compatibility only (for the log). */
export function noEffectKeys(definition: Readonly<Record<string, unknown>>, kind: PolicyKind): string[] {
  const keys = compatKeys(kind);
  return Object.keys(definition).filter((k) => keys.includes(k)).sort();
}

const HA_MODE_PREFERENCE = ['all', 'exactly'];

/**
 * A policy's and an operator policy's values of one of these keys merged as
 * their modules' merge_policy_value do (what effective_policy_definition
 * shows); undefined when the key has no special rule here.
 */
export function mergeCompatValue(key: string, policy: unknown, operator: unknown): unknown {
  switch (key) {
    case 'ha-mode': {
      if (policy === operator) return policy;
      for (const preferred of HA_MODE_PREFERENCE) {
        if (policy === preferred) return policy;
        if (operator === preferred) return operator;
      }
      return operator;
    }
    case 'ha-params':
      if (isInteger(policy) && isInteger(operator)) return Math.max(policy, operator);
      if (isInteger(policy)) return policy;
      if (isInteger(operator)) return operator;
      return Array.isArray(policy) && Array.isArray(operator) && policy.length > operator.length ? policy : operator;
    case 'ha-sync-mode':
      return operator;
    case 'target-group-size':
      return isInteger(policy) && isInteger(operator) ? Math.max(policy, operator) : operator;
    default:
      return undefined;
  }
}
