/**
 * Invalid policy bodies get RabbitMQ 3.13's 400 answers, text for text
 * (rabbit_mgmt_wm_policy's body check, then rabbit_policy's validators —
 * rabbit_policies for definition values, rabbit_parameter_validation for
 * pattern and priority — reported by rabbit_runtime_parameters under
 * "Validation failed", one line per failed check), and change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { api, get } from '../helpers/http.js';

let broker: Broker;
beforeAll(async () => {
  broker = await startBroker({ management: { port: 0 } });
});
afterAll(() => broker.stop());

const APPLY_TO = "should be one of: 'queues', 'classic_queues',  'quorum_queues', 'streams', 'exchanges', or 'all'";

async function refused(body: unknown, path = '/api/policies/%2F/p'): Promise<string> {
  const r = await api(broker, path, { method: 'PUT', body });
  expect(r.status, JSON.stringify(body)).toBe(400);
  const { error, reason } = r.body as { error: string; reason: string };
  expect(error).toBe('bad_request');
  return reason;
}

const failed = (...lines: string[]): string => `Validation failed\n\n${lines.map((l) => `${l}\n`).join('')}`;

describe('PUT /api/policies: invalid bodies', () => {
  it('a missing pattern or definition: the body check\'s key_missing list', async () => {
    expect(await refused({ definition: { 'max-length': 1 } })).toBe('[{key_missing,pattern}]');
    expect(await refused({ pattern: '.*' })).toBe('[{key_missing,definition}]');
    expect(await refused({ priority: 1 })).toBe('[{key_missing,pattern},{key_missing,definition}]');
  });

  it('unknown keys are listed as Erlang terms, sorted; a recognised key\'s bad value is reported before them', async () => {
    expect(await refused({ pattern: '.*', definition: { 'queue-mode': 'lazy', foo: 1, 'federation-upstream-set': 'all' } })).toBe(failed('[{<<"federation-upstream-set">>,<<"all">>},{<<"foo">>,1}] are not recognised policy settings'));
    expect(await refused({ pattern: '.*', definition: { foo: 1, 'max-length': 'x' } })).toBe(failed('<<"x">> is not a valid maximum length'));
  });

  it('wrong types and values: rabbit_policies\' texts, the first bad key (sorted) answering', async () => {
    expect(await refused({ pattern: '.*', definition: { 'max-length': 'x' } })).toBe(failed('<<"x">> is not a valid maximum length'));
    expect(await refused({ pattern: '.*', definition: { 'max-length-bytes': -1 } })).toBe(failed('-1 is not a valid maximum length in bytes'));
    expect(await refused({ pattern: '.*', definition: { 'message-ttl': 1.5 } })).toBe(failed('1.5 is not a valid message TTL'));
    expect(await refused({ pattern: '.*', definition: { expires: 0 } })).toBe(failed('0 is not a valid queue expiry'));
    expect(await refused({ pattern: '.*', definition: { 'delivery-limit': true } })).toBe(failed('true is not a valid delivery limit'));
    expect(await refused({ pattern: '.*', definition: { overflow: 'drop-tail' } })).toBe(failed('<<"drop-tail">> is not a valid overflow value'));
    expect(await refused({ pattern: '.*', definition: { 'dead-letter-exchange': 5 } })).toBe(failed('5 is not a valid dead letter exchange name'));
    expect(await refused({ pattern: '.*', definition: { 'dead-letter-routing-key': null } })).toBe(failed('null is not a valid dead letter routing key'));
    expect(await refused({ pattern: '.*', definition: { 'alternate-exchange': { a: 1 } } })).toBe(failed('#{<<"a">> => 1} is not a valid alternate exchange name'));
    expect(await refused({ pattern: '.*', definition: { 'message-ttl': -5, 'max-length': -1 } })).toBe(failed('-1 is not a valid maximum length'));
    expect(await refused({ pattern: '.*', definition: {} })).toBe(failed('no policy provided'));
    expect(await refused({ pattern: '.*', definition: 'max-length' })).toBe(failed('definition must be a dictionary: <<"max-length">>'));
  });

  it('a bad pattern, apply-to or priority: rabbit_parameter_validation\'s and rabbit_policy\'s texts', async () => {
    expect(await refused({ pattern: 5, definition: { 'max-length': 1 } })).toBe(failed('pattern should be a binary but was 5'));
    expect(await refused({ pattern: '(', definition: { 'max-length': 1 } })).toMatch(/^Validation failed\n\npattern should be regular expression but is invalid: ".+"\n$/);
    expect(await refused({ pattern: '.*', definition: { 'max-length': 1 }, 'apply-to': 'topics' })).toBe(failed(`apply-to 'topics' unrecognised; ${APPLY_TO}`));
    expect(await refused({ pattern: '.*', definition: { 'max-length': 1 }, priority: 'high' })).toBe(failed('priority should be a number, actually was <<"high">>'));
    expect(await refused({ pattern: '.*', definition: { 'max-length': 1 }, priority: null })).toBe(failed('priority should be a number, actually was null'));
  });

  it('every failed check is reported, in RabbitMQ\'s order: definition, apply-to, pattern, priority', async () => {
    expect(await refused({ pattern: 7, definition: { 'max-length': 'x' }, 'apply-to': 'nope', priority: 'high' })).toBe(failed(
      '<<"x">> is not a valid maximum length',
      `apply-to 'nope' unrecognised; ${APPLY_TO}`,
      'pattern should be a binary but was 7',
      'priority should be a number, actually was <<"high">>',
    ));
  });

  it('operator policies take only the numeric limits', async () => {
    expect(await refused({ pattern: '.*', definition: { overflow: 'drop-head', 'max-length': 5 } }, '/api/operator-policies/%2F/op')).toBe(failed('[{<<"overflow">>,<<"drop-head">>}] are not recognised policy settings'));
  });

  it('nothing was stored; valid edge cases RabbitMQ accepts are accepted (negative or fractional priority, apply-to streams)', async () => {
    expect(await get<unknown[]>(broker, '/api/policies')).toEqual([]);
    expect(await get<unknown[]>(broker, '/api/operator-policies')).toEqual([]);
    expect((await api(broker, '/api/policies/%2F/low', { method: 'PUT', body: { pattern: '^x$', definition: { 'max-length': 1 }, priority: -3 } })).status).toBe(201);
    expect((await api(broker, '/api/policies/%2F/half', { method: 'PUT', body: { pattern: '^y$', definition: { 'max-length': 1 }, priority: 1.5, 'apply-to': 'streams' } })).status).toBe(201);
    const listed = await get<Record<string, unknown>[]>(broker, '/api/policies/%2F');
    expect(listed.map((p) => [p.name, p.priority, p['apply-to']]).sort()).toEqual([['half', 1.5, 'streams'], ['low', -3, 'all']]);
  });
});
