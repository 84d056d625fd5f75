/**
 * Policies, operator policies, vhost limits and user limits at run time:
 * validated, journaled (one `setting` record each, before anything changes)
 * and applied at once to the vhost's queues and exchanges. Also their place
 * in RabbitMQ's definitions format:
 *   - `policies`: [{vhost, name, pattern, apply-to, definition, priority}];
 *   - operator policies and vhost limits are runtime parameters, so they are
 *     `parameters` entries with component `operator_policy` and
 *     `vhost-limits` (name `limits`); a top-level `operator_policies` list is
 *     read too;
 *   - user limits are each user's `limits` object.
 */
import type { VirtualHost } from '../broker/virtual-host.js';
import {
  compilePattern,
  policyValidationText,
  POLICY_APPLY_TO,
  validatePolicyDefinition,
  erlangTerm,
  type PolicyApplyTo,
  type PolicyDefinition,
  type PolicyKind,
  type PolicyRecord,
} from '../broker/policies.js';
import { noEffectKeys } from '../broker/policy-compat.js';
import { USER_LIMIT_NAMES, VHOST_LIMIT_NAMES, type UserLimits, type VhostLimits } from '../broker/limits.js';
import type { DefinitionsJournal, SettingDef } from '../store/definitions.js';
import type { Logger } from '../observe/logger.js';

/** A setting that cannot be accepted: `reason` is the HTTP API's 400 reason. */
export class SettingError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'SettingError';
  }
}

/** The JSON shape of a policy in the HTTP API and in definitions. */
export interface PolicyJson {
  vhost: string;
  name: string;
  pattern: string;
  'apply-to': PolicyApplyTo;
  definition: PolicyDefinition;
  priority: number;
}

export const policyJson = (p: PolicyRecord): PolicyJson => ({ vhost: p.vhost, name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, definition: { ...p.definition }, priority: p.priority });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RabbitMQ's list of apply-to values, as its error text spells it (the double space is RabbitMQ's). */
const APPLY_TO_TEXT = "should be one of: 'queues', 'classic_queues',  'quorum_queues', 'streams', 'exchanges', or 'all'";

/**
 * Reads a policy body ({pattern, definition, priority?, apply-to?}) as the
 * management API and rabbit_policy:set validate it, with RabbitMQ's texts:
 * a missing pattern or definition is `[{key_missing,pattern}]` (the API's
 * body check, before any validation); otherwise every failed check is
 * reported, in RabbitMQ's order (definition, apply-to, pattern, priority),
 * under "Validation failed".
 */
export function parsePolicy(vhost: string, name: string, body: unknown, kind: PolicyKind): PolicyRecord {
  if (!isObject(body)) throw new SettingError(policyValidationText(`${erlangTerm(body)} is not a valid policy`));
  const missing = ['pattern', 'definition'].filter((k) => body[k] === undefined);
  if (missing.length > 0) throw new SettingError(`[${missing.map((k) => `{key_missing,${k}}`).join(',')}]`);
  const errors: string[] = [];

  // Some RabbitMQ exports write an operator policy's definition as a list of [key, value] pairs.
  const raw = body.definition;
  const pairs = Array.isArray(raw) && raw.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string');
  const definition = pairs ? Object.fromEntries(raw as [string, unknown][]) : raw;
  const badDefinition = validatePolicyDefinition(definition, kind);
  if (badDefinition !== null) errors.push(badDefinition);

  const applyTo = body['apply-to'] === undefined ? 'all' : body['apply-to'];
  if (typeof applyTo !== 'string' || !(POLICY_APPLY_TO as readonly string[]).includes(applyTo)) {
    errors.push(`apply-to '${typeof applyTo === 'string' ? applyTo : JSON.stringify(applyTo)}' unrecognised; ${APPLY_TO_TEXT}`);
  }

  const pattern = body.pattern;
  if (typeof pattern !== 'string') errors.push(`pattern should be a binary but was ${erlangTerm(pattern)}`);
  else {
    const invalid = patternError(pattern);
    if (invalid !== null) errors.push(`pattern should be regular expression but is invalid: ${JSON.stringify(invalid)}`);
  }

  // rabbit_parameter_validation:number: any number (negative and fractional included). An
  // integer in a string is taken too (definitions written by hand or by older tools).
  let priority = body.priority === undefined ? 0 : body.priority;
  if (typeof priority === 'string' && /^-?\d+$/.test(priority)) priority = Number(priority);
  if (typeof priority !== 'number' || !Number.isFinite(priority)) errors.push(`priority should be a number, actually was ${erlangTerm(priority)}`);

  if (errors.length > 0) throw new SettingError(policyValidationText(...errors));
  return { vhost, name, pattern: pattern as string, applyTo: applyTo as PolicyApplyTo, priority: priority as number, definition: { ...(definition as PolicyDefinition) } };
}

/** Why `pattern` does not compile (the engine's words), or null when it does. */
function patternError(pattern: string): string | null {
  if (compilePattern(pattern) !== null) return null;
  try {
    new RegExp(pattern);
    return null;
  } catch (err) {
    // "Invalid regular expression: /(/: Unterminated group" → "Unterminated group"
    const message = err instanceof Error ? err.message : String(err);
    return message.slice(message.lastIndexOf(': ') + 2);
  }
}

/** A limit value: an integer (RabbitMQ: negative = no limit). */
export function parseLimitValue(name: string, value: unknown, known: readonly string[]): number {
  if (!known.includes(name)) throw new SettingError(`Validation failed\n\n${erlangTerm(name)} is not a valid limit\n`);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new SettingError(`Validation failed\n\n${erlangTerm(value)} is not a valid value for ${name}\n`);
  return value;
}

export class RuntimeSettings {
  journal: DefinitionsJournal | null = null;
  constructor(
    private readonly vhosts: ReadonlyMap<string, VirtualHost>,
    private readonly logger: Logger,
    /** Per-user limits (shared with the AMQP server, which reads them at connection.open and channel.open). */
    readonly userLimits = new Map<string, UserLimits>(),
  ) {}

  private vhost(name: string): VirtualHost {
    const v = this.vhosts.get(name);
    if (!v) throw new SettingError(`no such vhost: '${name}'`);
    return v;
  }

  // ------------------------------------------------------------------ policies

  listPolicies(kind: PolicyKind, vhost?: string): PolicyRecord[] {
    const out: PolicyRecord[] = [];
    for (const [name, v] of this.vhosts) if (vhost === undefined || vhost === name) out.push(...v.policies.list(kind));
    return out;
  }

  /** Sets a policy (validated by parsePolicy) and applies it at once; true when it is new. */
  putPolicy(kind: PolicyKind, p: PolicyRecord): boolean {
    const v = this.vhost(p.vhost);
    this.journal?.settingPut({ kind, vhost: p.vhost, name: p.name, value: JSON.stringify(policyJson(p)) });
    const created = v.policies.put(kind, p);
    v.policies.applyToAll(v.queues.values(), v.exchanges.values());
    const inert = noEffectKeys(p.definition, kind);
    if (inert.length > 0) {
      this.logger.warn({ vhost: p.vhost, [kind]: p.name, keys: inert }, 'policy keys accepted for compatibility with RabbitMQ have no effect in Warren');
    }
    return created;
  }

  /** Removes a policy; its queues and exchanges go back to their own arguments (or the next matching policy). */
  deletePolicy(kind: PolicyKind, vhost: string, name: string): boolean {
    const v = this.vhosts.get(vhost);
    if (!v?.policies.get(kind, name)) return false;
    this.journal?.settingDeleted(kind, vhost, name);
    v.policies.delete(kind, name);
    v.policies.applyToAll(v.queues.values(), v.exchanges.values());
    return true;
  }

  // ------------------------------------------------------------------ limits

  setVhostLimits(vhost: string, limits: VhostLimits): void {
    const v = this.vhost(vhost);
    const value = { ...limits };
    if (Object.keys(value).length === 0) this.journal?.settingDeleted('vhost-limits', vhost, 'limits');
    else this.journal?.settingPut({ kind: 'vhost-limits', vhost, name: 'limits', value: JSON.stringify(value) });
    v.limits = value;
  }

  setUserLimits(user: string, limits: UserLimits): void {
    const value = { ...limits };
    if (Object.keys(value).length === 0) {
      this.journal?.settingDeleted('user-limits', '', user);
      this.userLimits.delete(user);
    } else {
      this.journal?.settingPut({ kind: 'user-limits', vhost: '', name: user, value: JSON.stringify(value) });
      this.userLimits.set(user, value);
    }
  }

  /** A user was deleted: the journal's user-delete record dropped its limits already. */
  userDeleted(user: string): void {
    this.userLimits.delete(user);
  }

  // ------------------------------------------------------------------ restore

  /** Applies the stored settings at start-up (a record that no longer validates is logged and skipped). */
  restore(settings: Iterable<SettingDef>): void {
    for (const s of settings) {
      try {
        const value: unknown = JSON.parse(s.value);
        if (s.kind === 'policy' || s.kind === 'operator-policy') {
          const v = this.vhosts.get(s.vhost);
          if (!v) continue;
          v.policies.put(s.kind, parsePolicy(s.vhost, s.name, value, s.kind));
        } else if (s.kind === 'vhost-limits') {
          const v = this.vhosts.get(s.vhost);
          if (v) v.limits = readLimits(value, VHOST_LIMIT_NAMES);
        } else {
          this.userLimits.set(s.name, readLimits(value, USER_LIMIT_NAMES));
        }
      } catch (err) {
        this.logger.error({ err: (err as Error).message, record: s }, 'stored policy or limit no longer valid; skipped');
      }
    }
    for (const v of this.vhosts.values()) v.policies.applyToAll(v.queues.values(), v.exchanges.values());
  }
}

/** A limits object ({"max-connections": N, …}); unknown names or non-integers throw SettingError. */
export function readLimits<N extends string>(value: unknown, known: readonly N[]): Partial<Record<N, number>> {
  if (!isObject(value)) throw new SettingError(`Validation failed\n\n${erlangTerm(value)} is not a valid limits object\n`);
  const out: Partial<Record<N, number>> = {};
  for (const [k, v] of Object.entries(value)) out[k as N] = parseLimitValue(k, v, known);
  return out;
}
