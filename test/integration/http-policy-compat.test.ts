/**
 * Policy keys RabbitMQ 3.13 recognises but Warren does not act on (classic
 * queue mirroring's ha-*, queue-mode, queue-version, quorum queue and stream
 * tuning, queue placement): accepted with RabbitMQ's validation and texts,
 * stored and exported unchanged, shown in effective_policy_definition, logged
 * once per policy set, and without effect on queues. A RabbitMQ export with
 * an ha-all policy imports — over HTTP and at boot with --definitions.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { startChildBroker, type ChildBroker } from '../helpers/child-broker.js';
import { api, get } from '../helpers/http.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NO_EFFECT = 'policy keys accepted for compatibility with RabbitMQ have no effect in Warren';
const failed = (line: string): string => `Validation failed\n\n${line}\n`;

/** rabbit_password_hashing_sha256: base64(salt ‖ SHA-256(salt ‖ password)), with a fixed salt. */
function passwordHash(password: string): string {
  const salt = Buffer.from('0badcafe', 'hex');
  return Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from(password)])).digest()]).toString('base64');
}

/** A definitions file as RabbitMQ 3.13's GET /api/definitions writes it (by hand): an ha-all policy, a lazy-queue policy, an operator policy. */
const RABBIT_EXPORT = {
  rabbit_version: '3.13.7',
  rabbitmq_version: '3.13.7',
  product_name: 'RabbitMQ',
  product_version: '3.13.7',
  users: [{ name: 'guest', password_hash: passwordHash('guest'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'], limits: {} }],
  vhosts: [{ name: '/', description: 'Default virtual host', tags: [], metadata: { description: 'Default virtual host', tags: [] } }],
  permissions: [{ user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' }],
  topic_permissions: [],
  parameters: [
    { value: { pattern: '^jobs\\.', definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'max-length': 1000 }, priority: 0, 'apply-to': 'queues' }, vhost: '/', component: 'operator_policy', name: 'cap-jobs' },
  ],
  global_parameters: [{ name: 'cluster_name', value: 'rabbit@old-host' }],
  policies: [
    { vhost: '/', name: 'ha-all', pattern: '.*', 'apply-to': 'all', definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' }, priority: 0 },
    { vhost: '/', name: 'lazy-jobs', pattern: '^jobs\\.', 'apply-to': 'queues', definition: { 'queue-mode': 'lazy', 'ha-mode': 'exactly', 'ha-params': 2, 'max-length': 3 }, priority: 5 },
  ],
  queues: [{ name: 'jobs.email', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-queue-type': 'classic' } }],
  exchanges: [{ name: 'jobs', vhost: '/', type: 'direct', durable: true, auto_delete: false, internal: false, arguments: {} }],
  bindings: [{ source: 'jobs', vhost: '/', destination: 'jobs.email', destination_type: 'queue', routing_key: 'email', arguments: {} }],
};

/** The operator policy as GET /api/operator-policies shows it. */
const CAP_JOBS = { vhost: '/', name: 'cap-jobs', pattern: '^jobs\\.', 'apply-to': 'queues', definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'max-length': 1000 }, priority: 0 };

async function publishAndCount(conn: AmqpConnection, queue: string, bodies: string[]): Promise<number> {
  const ch = await conn.createConfirmChannel();
  for (const b of bodies) ch.sendToQueue(queue, Buffer.from(b), { persistent: true });
  await ch.waitForConfirms();
  const { messageCount } = await ch.checkQueue(queue);
  await ch.close();
  return messageCount;
}

async function drain(conn: AmqpConnection, queue: string): Promise<string[]> {
  const ch = await conn.createChannel();
  const got: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) break;
    got.push(m.content.toString());
  }
  await ch.close();
  return got;
}

describe('RabbitMQ policy keys Warren accepts without acting on', () => {
  let broker: Broker;
  const logs: Json[] = [];
  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as Json);
        cb();
      },
    });
    broker = await startBroker({ management: { port: 0 }, logger: pino({ level: 'info' }, stream) });
  });
  afterAll(() => broker.stop());

  const put = (name: string, body: unknown, kind = 'policies'): ReturnType<typeof api> => api(broker, `/api/${kind}/%2F/${name}`, { method: 'PUT', body });
  async function reason(definition: unknown, kind = 'policies'): Promise<string> {
    const r = await put('bad', { pattern: '.*', definition }, kind);
    expect(r.status, JSON.stringify(definition)).toBe(400);
    return (r.body as Json).reason as string;
  }

  it('every such key with a valid value is accepted, stored and returned unchanged, and logged once', async () => {
    const definition = {
      'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'manual', 'ha-sync-batch-size': 10, 'ha-promote-on-shutdown': 'always', 'ha-promote-on-failure': 'when-synced',
      'queue-mode': 'lazy', 'queue-version': 2, 'max-in-memory-length': 10, 'max-in-memory-bytes': 1024, 'max-age': '7D', 'stream-max-segment-size-bytes': 500_000_000,
      'queue-leader-locator': 'client-local', 'queue-master-locator': 'min-masters', 'initial-cluster-size': 3, 'dead-letter-strategy': 'at-least-once',
      'target-group-size': 3, 'consumer-timeout': 60_000, 'delivery-limit': 5, 'alternate-exchange': 'ae',
    };
    const r = await put('compat-all', { pattern: '^nothing-matches$', definition, 'apply-to': 'queues', priority: 1 });
    expect(r.status).toBe(201);
    expect(await get<Json>(broker, '/api/policies/%2F/compat-all')).toEqual({ vhost: '/', name: 'compat-all', pattern: '^nothing-matches$', 'apply-to': 'queues', definition, priority: 1 });
    const logged = logs.filter((l) => l.msg === NO_EFFECT && l.policy === 'compat-all');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.level).toBe(40); // warn
    expect(logged[0]!.keys).toEqual(Object.keys(definition).filter((k) => k !== 'delivery-limit' && k !== 'alternate-exchange').sort());

    // ha-mode nodes takes a list of node names, kept as a list.
    expect((await put('nodes', { pattern: '^nothing$', definition: { 'ha-mode': 'nodes', 'ha-params': ['rabbit@a', 'rabbit@b'] } })).status).toBe(201);
    expect((await get<Json>(broker, '/api/policies/%2F/nodes')).definition).toEqual({ 'ha-mode': 'nodes', 'ha-params': ['rabbit@a', 'rabbit@b'] });
    // A policy without such keys logs nothing.
    expect((await put('plain', { pattern: '^nothing$', definition: { 'max-length': 5 } })).status).toBe(201);
    expect(logs.filter((l) => l.msg === NO_EFFECT && l.policy === 'plain')).toEqual([]);
    for (const name of ['compat-all', 'nodes', 'plain']) expect((await api(broker, `/api/policies/%2F/${name}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('classic mirroring values are checked as rabbit_mirror_queue_misc and its modes do, with their texts', async () => {
    expect(await reason({ 'ha-mode': 'bogus' })).toBe(failed('<<"bogus">> is not a valid ha-mode value'));
    expect(await reason({ 'ha-mode': 'exactly' })).toBe(failed('ha-mode="exactly" takes an integer, none given'));
    expect(await reason({ 'ha-mode': 'exactly', 'ha-params': 0 })).toBe(failed('ha-mode="exactly" takes an integer, 0 given'));
    expect(await reason({ 'ha-mode': 'exactly', 'ha-params': '2' })).toBe(failed('ha-mode="exactly" takes an integer, <<"2">> given'));
    expect(await reason({ 'ha-mode': 'all', 'ha-params': 2 })).toBe(failed('ha-mode="all" does not take parameters'));
    expect(await reason({ 'ha-mode': 'nodes' })).toBe(failed('ha-mode="nodes" takes a list, none given'));
    expect(await reason({ 'ha-mode': 'nodes', 'ha-params': 'rabbit@a' })).toBe(failed('ha-mode="nodes" takes a list, <<"rabbit@a">> given'));
    expect(await reason({ 'ha-mode': 'nodes', 'ha-params': [] })).toBe(failed('ha-mode="nodes" list must be non-empty'));
    expect(await reason({ 'ha-mode': 'nodes', 'ha-params': ['rabbit@a', 1] })).toBe(failed('ha-mode="nodes" takes a list of strings, [1] was not a string'));
    expect(await reason({ 'ha-params': 2 })).toBe(failed('ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown'));
    expect(await reason({ 'ha-sync-mode': 'automatic' })).toBe(failed('ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown'));
    expect(await reason({ 'ha-mode': 'all', 'ha-sync-mode': 'eager' })).toBe(failed('ha-sync-mode must be "manual" or "automatic", got <<"eager">>'));
    expect(await reason({ 'ha-mode': 'all', 'ha-sync-batch-size': 0 })).toBe(failed('ha-sync-batch-size takes an integer greater than 0, 0 given'));
    expect(await reason({ 'ha-mode': 'all', 'ha-promote-on-shutdown': 'never' })).toBe(failed('ha-promote-on-shutdown must be "always" or "when-synced", got <<"never">>'));
    expect(await reason({ 'ha-mode': 'all', 'ha-promote-on-failure': true })).toBe(failed('ha-promote-on-failure must be "always" or "when-synced", got true'));
    // A bad recognised value answers before unrecognised keys.
    expect(await reason({ 'ha-mode': 'bogus', foo: 1 })).toBe(failed('<<"bogus">> is not a valid ha-mode value'));
    expect(await api(broker, '/api/policies/%2F/bad').then((r) => r.status)).toBe(404);
  });

  it('the other keys are checked as rabbit_policies, rabbit_queue_location_validator and rabbit_quorum_queue do', async () => {
    expect(await reason({ 'queue-mode': 'turbo' })).toBe(failed('<<"turbo">> is not a valid queue-mode value'));
    expect(await reason({ 'queue-version': 3 })).toBe(failed('3 is not a valid queue-version value'));
    expect(await reason({ 'max-in-memory-length': -1 })).toBe(failed('-1 is not a valid maximum memory in bytes'));
    expect(await reason({ 'max-in-memory-bytes': 'lots' })).toBe(failed('<<"lots">> is not a valid maximum memory in bytes'));
    expect(await reason({ 'max-age': '7X' })).toBe(failed('<<"7X">> is not a valid max age'));
    expect(await reason({ 'max-age': 3600 })).toBe(failed('3600 is not a valid max age'));
    expect(await reason({ 'stream-max-segment-size-bytes': -1 })).toBe(failed('-1 is not a valid segment size'));
    expect(await reason({ 'queue-leader-locator': 'nearest' })).toBe(failed('<<"nearest">> is not a valid queue leader locator value'));
    expect(await reason({ 'initial-cluster-size': 'three' })).toBe(failed('<<"three">> is not a valid cluster size'));
    expect(await reason({ 'dead-letter-strategy': 'sometimes' })).toBe(failed('<<"sometimes">> is not a valid dead letter strategy'));
    expect(await reason({ 'consumer-timeout': '86400000' })).toBe(failed('<<"86400000">> is not a valid consumer timeout'));
    expect(await reason({ 'queue-master-locator': 'nearest' })).toBe(failed('<<"nearest">> invalid queue-master-locator value'));
    expect(await reason({ 'target-group-size': 0 })).toBe(failed('0 is not a valid qq target count value'));
  });

  it('federation keys stay unrecognised (no federation plugin), as on a RabbitMQ without it', async () => {
    expect(await reason({ 'federation-upstream-set': 'all', 'ha-mode': 'all' })).toBe(failed('[{<<"federation-upstream-set">>,<<"all">>}] are not recognised policy settings'));
    expect(await reason({ 'federation-upstream': 'up' })).toBe(failed('[{<<"federation-upstream">>,<<"up">>}] are not recognised policy settings'));
  });

  it('operator policies take only the keys RabbitMQ registers for them', async () => {
    expect((await put('op-ok', { pattern: '^nothing$', definition: { 'ha-mode': 'exactly', 'ha-params': 2, 'ha-sync-mode': 'automatic', 'max-in-memory-length': 5, 'target-group-size': 3 } }, 'operator-policies')).status).toBe(201);
    expect(await reason({ 'queue-mode': 'lazy' }, 'operator-policies')).toBe(failed('[{<<"queue-mode">>,<<"lazy">>}] are not recognised policy settings'));
    expect(await reason({ 'ha-mode': 'all', 'ha-sync-batch-size': 5 }, 'operator-policies')).toBe(failed('[{<<"ha-sync-batch-size">>,5}] are not recognised policy settings'));
    expect(await reason({ 'ha-mode': 'all', 'ha-params': 1 }, 'operator-policies')).toBe(failed('ha-mode="all" does not take parameters'));
    expect((await api(broker, '/api/operator-policies/%2F/op-ok', { method: 'DELETE' })).status).toBe(204);
  });

  it('queues show them in effective_policy_definition and behave exactly as without them', async () => {
    expect((await put('ha-all', { pattern: '.*', definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' }, 'apply-to': 'all' })).status).toBe(201);
    expect((await put('lazy', { pattern: '^lazy\\.', definition: { 'queue-mode': 'lazy', 'max-length': 2 }, 'apply-to': 'queues', priority: 1 })).status).toBe(201);
    expect((await put('op-ha', { pattern: '^lazy\\.', definition: { 'ha-mode': 'exactly', 'ha-params': 3, 'max-in-memory-length': 7 }, 'apply-to': 'queues' }, 'operator-policies')).status).toBe(201);
    const conn = await connect(broker);
    try {
      const ch = await conn.createChannel();
      await ch.assertQueue('plain.q', { durable: true });
      await ch.assertQueue('lazy.q', { durable: true });
      await ch.close();

      expect(await publishAndCount(conn, 'plain.q', ['a', 'b', 'c'])).toBe(3);
      expect(await drain(conn, 'plain.q')).toEqual(['a', 'b', 'c']);
      const plain = await get<Json>(broker, '/api/queues/%2F/plain.q');
      expect(plain).toMatchObject({ policy: 'ha-all', operator_policy: null, effective_policy_definition: { 'ha-mode': 'all', 'ha-sync-mode': 'automatic' } });

      // max-length from the same policy applies; queue-mode and the operator policy's ha-* and max-in-memory-length change nothing.
      expect(await publishAndCount(conn, 'lazy.q', ['1', '2', '3', '4', '5'])).toBe(2);
      expect(await drain(conn, 'lazy.q')).toEqual(['4', '5']);
      const lazy = await get<Json>(broker, '/api/queues/%2F/lazy.q');
      expect(lazy).toMatchObject({ policy: 'lazy', operator_policy: 'op-ha' });
      expect(lazy.effective_policy_definition).toEqual({ 'queue-mode': 'lazy', 'max-length': 2, 'ha-mode': 'exactly', 'ha-params': 3, 'max-in-memory-length': 7 });
      const ex = await get<Json>(broker, '/api/exchanges/%2F/amq.direct');
      expect(ex.policy).toBe('ha-all');
    } finally {
      await conn.close();
    }
    for (const [kind, name] of [['policies', 'ha-all'], ['policies', 'lazy'], ['operator-policies', 'op-ha']]) expect((await api(broker, `/api/${kind}/%2F/${name}`, { method: 'DELETE' })).status).toBe(204);
    await eventually(async () => (await get<Json>(broker, '/api/queues/%2F/plain.q')).policy === null);
  });
});

describe('a RabbitMQ export with an ha-all policy, a lazy-queue policy and an operator policy', () => {
  let broker: Broker;
  let second: Broker;
  beforeAll(async () => {
    broker = await startBroker({ management: { port: 0 } });
    second = await startBroker({ management: { port: 0 } });
  });
  afterAll(async () => {
    await broker.stop();
    await second.stop();
  });

  it('POST /api/definitions imports it; the policies read back unchanged and apply', async () => {
    const r = await api(broker, '/api/definitions', { method: 'POST', body: RABBIT_EXPORT });
    expect(r.status, r.text).toBe(204);
    expect(await get<Json[]>(broker, '/api/policies')).toEqual(RABBIT_EXPORT.policies);
    expect(await get<Json[]>(broker, '/api/operator-policies')).toEqual([CAP_JOBS]);
    const q = await get<Json>(broker, '/api/queues/%2F/jobs.email');
    expect(q).toMatchObject({ policy: 'lazy-jobs', operator_policy: 'cap-jobs' });
    expect(q.effective_policy_definition).toEqual({ 'queue-mode': 'lazy', 'ha-mode': 'exactly', 'ha-params': 2, 'max-length': 3 });
    // The queue works as a queue with max-length 3, nothing more.
    const conn = await connect(broker);
    try {
      const ch = await conn.createConfirmChannel();
      for (const b of ['1', '2', '3', '4']) ch.publish('jobs', 'email', Buffer.from(b));
      await ch.waitForConfirms();
      await ch.close();
      expect(await drain(conn, 'jobs.email')).toEqual(['2', '3', '4']);
    } finally {
      await conn.close();
    }
  });

  it('export → import into another broker → export is identical, policies as in the RabbitMQ file', async () => {
    const exported = await get<Json>(broker, '/api/definitions');
    expect(exported.policies).toEqual(RABBIT_EXPORT.policies);
    expect(exported.parameters).toEqual(RABBIT_EXPORT.parameters);
    expect((await api(second, '/api/definitions', { method: 'POST', body: exported })).status).toBe(204);
    const again = await get<Json>(second, '/api/definitions');
    for (const k of ['users', 'vhosts', 'permissions', 'topic_permissions', 'queues', 'exchanges', 'bindings', 'policies', 'parameters']) expect(again[k], k).toEqual(exported[k]);
  });
});

describe('warren --definitions with that export', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-policy-compat-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** GET on a child broker's management API, as guest. */
  async function read(child: ChildBroker, path: string): Promise<unknown> {
    const mgmt = child.lines.find((l) => l.msg === 'management API listening');
    expect(mgmt).toBeDefined();
    const res = await fetch(`http://127.0.0.1:${mgmt!.port as number}${path}`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    expect(res.status).toBe(200);
    return res.json();
  }

  async function stop(child: ChildBroker): Promise<void> {
    child.proc.kill('SIGTERM');
    await child.exited;
  }

  it('imports at boot, serves the policies, logs each inert policy once, and keeps them across a restart', async () => {
    const file = join(dir, 'rabbit.json');
    writeFileSync(file, JSON.stringify(RABBIT_EXPORT, null, 2));
    const data = join(dir, 'data');
    const child = await startChildBroker(['--data-dir', data, '--definitions', file]);
    try {
      expect(await read(child, '/api/policies')).toEqual(RABBIT_EXPORT.policies);
      expect(await read(child, '/api/operator-policies')).toEqual([CAP_JOBS]);
      const logged = child.lines.filter((l) => l.msg === NO_EFFECT);
      expect(logged.map((l) => l.policy ?? l['operator-policy']).sort()).toEqual(['cap-jobs', 'ha-all', 'lazy-jobs']);
    } finally {
      await stop(child);
    }
    const restarted = await startChildBroker(['--data-dir', data]);
    try {
      expect(await read(restarted, '/api/policies')).toEqual(RABBIT_EXPORT.policies);
      expect(await read(restarted, '/api/operator-policies')).toEqual([CAP_JOBS]);
      expect(await read(restarted, '/api/queues/%2F/jobs.email')).toMatchObject({ policy: 'lazy-jobs', operator_policy: 'cap-jobs', effective_policy_definition: { 'queue-mode': 'lazy', 'ha-mode': 'exactly', 'ha-params': 2, 'max-length': 3 } });
    } finally {
      await stop(restarted);
    }
  });
});
