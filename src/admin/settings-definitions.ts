/**
 * Policies, operator policies and limits in RabbitMQ's definitions format
 * (see settings.ts for where each lives), read strictly before anything is
 * applied and written as RabbitMQ exports them.
 */
import { USER_LIMIT_NAMES, VHOST_LIMIT_NAMES, type UserLimits, type VhostLimits } from '../broker/limits.js';
import type { PolicyKind, PolicyRecord } from '../broker/policies.js';
import { DefinitionsFormatError } from './definitions-format.js';
import { parsePolicy, policyJson, readLimits, SettingError, type RuntimeSettings } from './settings.js';

export interface ParsedSettings {
  policies: { kind: PolicyKind; record: PolicyRecord }[];
  vhostLimits: { vhost: string; limits: VhostLimits }[];
  userLimits: { user: string; limits: UserLimits }[];
  /** Runtime parameters of other components (shovels, federation…): kept in the file, not applied. */
  otherParameters: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function items(doc: Record<string, unknown>, key: string): unknown[] {
  const v = doc[key];
  return Array.isArray(v) ? v : [];
}

function named(item: unknown, path: string, key: 'vhost' | 'name' | 'component'): string {
  const v = isObject(item) ? item[key] : undefined;
  if (typeof v !== 'string') throw new DefinitionsFormatError(`${path}.${key}`, 'missing (a string is required)');
  return v;
}

/** Rethrows a SettingError at its JSON path. */
function at<T>(path: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof SettingError) throw new DefinitionsFormatError(path, err.reason.replace(/^Validation failed\n\n/, '').trim());
    throw err;
  }
}

/**
 * Reads the settings of a definitions document; `vhostKnown` says whether a
 * vhost is in the file or on the broker. Throws DefinitionsFormatError.
 */
export function parseSettings(doc: Record<string, unknown>, vhostKnown: (name: string) => boolean): ParsedSettings {
  const out: ParsedSettings = { policies: [], vhostLimits: [], userLimits: [], otherParameters: 0 };
  const needVhost = (vhost: string, path: string): void => {
    if (!vhostKnown(vhost)) throw new DefinitionsFormatError(`${path}.vhost`, `vhost '${vhost}' is neither in the file nor on the broker`);
  };
  const policy = (kind: PolicyKind, item: unknown, body: unknown, path: string): void => {
    const vhost = named(item, path, 'vhost');
    needVhost(vhost, path);
    out.policies.push({ kind, record: at(path, () => parsePolicy(vhost, named(item, path, 'name'), body, kind)) });
  };
  items(doc, 'policies').forEach((p, i) => policy('policy', p, p, `$.policies[${i}]`));
  items(doc, 'operator_policies').forEach((p, i) => policy('operator-policy', p, p, `$.operator_policies[${i}]`));
  items(doc, 'parameters').forEach((p, i) => {
    const path = `$.parameters[${i}]`;
    const component = named(p, path, 'component');
    const value = (p as Record<string, unknown>).value;
    if (component === 'operator_policy') policy('operator-policy', p, value, path);
    else if (component === 'vhost-limits') {
      const vhost = named(p, path, 'vhost');
      needVhost(vhost, path);
      out.vhostLimits.push({ vhost, limits: at(`${path}.value`, () => readLimits(value, VHOST_LIMIT_NAMES)) });
    } else out.otherParameters++;
  });
  items(doc, 'users').forEach((u, i) => {
    const limits = isObject(u) ? u.limits : undefined;
    if (limits === undefined || (isObject(limits) && Object.keys(limits).length === 0)) return;
    out.userLimits.push({ user: named(u, `$.users[${i}]`, 'name'), limits: at(`$.users[${i}].limits`, () => readLimits(limits, USER_LIMIT_NAMES)) });
  });
  return out;
}

/** Applies parsed settings (vhosts and users exist by now); imported policies replace same-named ones, as RabbitMQ. */
export function applySettings(settings: RuntimeSettings, s: ParsedSettings): void {
  for (const p of s.policies) settings.putPolicy(p.kind, p.record);
  for (const l of s.vhostLimits) settings.setVhostLimits(l.vhost, l.limits);
  for (const l of s.userLimits) settings.setUserLimits(l.user, l.limits);
}

/** The settings' parts of an export. */
export function exportSettings(settings: RuntimeSettings, vhosts: Iterable<[string, { limits: VhostLimits }]>): { policies: unknown[]; parameters: unknown[] } {
  const parameters: unknown[] = [];
  for (const p of settings.listPolicies('operator-policy')) {
    const { vhost, name, ...value } = policyJson(p);
    parameters.push({ vhost, component: 'operator_policy', name, value });
  }
  for (const [vhost, v] of vhosts) if (Object.keys(v.limits).length > 0) parameters.push({ vhost, component: 'vhost-limits', name: 'limits', value: { ...v.limits } });
  return { policies: settings.listPolicies('policy').map(policyJson), parameters };
}
