import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { get } from '../helpers/http.js';
import { WARREN_BIN } from '../helpers/child-broker.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without any WARREN_CTL_* a developer may have set. */
const BASE_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WARREN_CTL_')));

/** Runs the built CLI, `node bin/warren ctl …`, as a user would. */
function warren(args: string[], o: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [WARREN_BIN, ...args], { env: { ...BASE_ENV, ...o.env }, cwd: o.cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    child.stdin!.end(o.input ?? '');
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('warren ctl', { timeout: 60_000 }, () => {
  let broker: Broker;
  let dir: string;
  let dataDir: string;
  let url: string;
  /** Over the control socket: no credentials anywhere. */
  const sock = (...args: string[]): Promise<Run> => warren(['ctl', '--data-dir', dataDir, ...args]);
  /** Over the management API with guest's credentials. */
  const http = (...args: string[]): Promise<Run> => warren(['ctl', '--url', url, '--user', 'guest', '--password', 'guest', ...args]);
  const json = <T = Json[]>(r: Run): T => {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const ok = (r: Run): string => {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  };
  /** One clear line on stderr, nothing on stdout, exit 1. */
  const failed = (r: Run, text: string | RegExp): void => {
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(typeof text === 'string' ? new RegExp(`^warren ctl: .*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) : text);
  };

  let conn: AmqpConnection;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-ctl-'));
    dataDir = join(dir, 'data');
    broker = await startBroker({ management: { port: 0 }, dataDir, fsync: false });
    url = `http://127.0.0.1:${broker.managementHttpPort}`;
    conn = await connect(broker);
  });
  afterAll(async () => {
    await conn?.close().catch(() => undefined);
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a subcommand: warren --help lists it, warren ctl --help lists every command; bad usage exits 2 naming the flag or argument', async () => {
    const [top, help, cmdHelp, none, unknown, flag, missing, extra, formatter, foreign, column] = await Promise.all([
      warren(['--help']),
      warren(['ctl', '--help']),
      warren(['ctl', 'set_permissions', '--help']),
      warren(['ctl']),
      warren(['ctl', 'frobnicate']),
      warren(['ctl', '--bogus', 'status']),
      warren(['ctl', 'add_user', 'x']),
      warren(['ctl', 'delete_user', 'a', 'b']),
      warren(['ctl', '--formatter', 'xml', 'list_queues']),
      warren(['ctl', 'list_queues', '--if-empty']),
      warren(['ctl', 'list_queues', 'name', 'colour']),
    ]);
    expect(ok(top)).toMatch(/warren ctl <command>/);
    const listed = ok(help);
    for (const c of ['status', 'list_queues', 'list_exchanges', 'list_bindings', 'list_connections', 'list_channels', 'list_consumers', 'list_users', 'list_vhosts', 'list_permissions', 'list_topic_permissions', 'list_policies', 'add_user', 'delete_user', 'change_password', 'set_user_tags', 'set_permissions', 'clear_permissions', 'set_topic_permissions', 'add_vhost', 'delete_vhost', 'set_policy', 'clear_policy', 'set_vhost_limits', 'purge_queue', 'delete_queue', 'close_connection', 'export_definitions', 'import_definitions']) {
      expect(listed).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
    expect(ok(cmdHelp)).toMatch(/^Usage: warren ctl \[-p <vhost>\] set_permissions <username> <conf> <write> <read>$/m);
    for (const r of [none, unknown, flag, missing, extra, formatter, foreign, column]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(none.stderr).toMatch(/^warren ctl: no command given$/m);
    expect(unknown.stderr).toMatch(/^warren ctl: unknown command 'frobnicate'$/m);
    expect(flag.stderr).toMatch(/^warren ctl: unknown option '--bogus'$/m);
    expect(missing.stderr).toMatch(/^warren ctl: add_user: missing argument <password>/m);
    expect(extra.stderr).toMatch(/^warren ctl: delete_user: unexpected argument 'b'/m);
    expect(formatter.stderr).toMatch(/^warren ctl: --formatter expects table or json, got 'xml'$/m);
    expect(foreign.stderr).toMatch(/^warren ctl: --if-empty is not an option of list_queues$/m);
    expect(column.stderr).toMatch(/^warren ctl: list_queues: unknown column 'colour'/m);
  });

  it('control socket: <dataDir>/warren.sock, mode 0600, serves status with no credentials; the HTTP API gives the same answers', async () => {
    const socket = join(dataDir, 'warren.sock');
    const st = statSync(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    const [viaSocket, viaHttp, table, fromCwd] = await Promise.all([
      sock('status', '--formatter', 'json'),
      http('status', '--formatter', 'json'),
      sock('status'),
      // The default data directory is ./data: run from the broker's directory, no flags at all.
      warren(['ctl', 'list_vhosts', '-q'], { cwd: dir }),
    ]);
    const s = json<Json>(viaSocket);
    expect(s).toMatchObject({ product_name: 'Warren', os_pid: String(process.pid), data_directory: dataDir, alarms: [], memory: { alarm: false }, disk: { alarm: false } });
    expect(s.listeners).toContainEqual(expect.objectContaining({ protocol: 'amqp', port: broker.port }));
    expect(s.listeners).toContainEqual(expect.objectContaining({ protocol: 'http', port: broker.managementHttpPort }));
    expect(s.totals.connections).toBeGreaterThanOrEqual(1);
    expect(json<Json>(viaHttp).node).toBe(s.node);
    const text = ok(table);
    expect(text).toMatch(/^Status of node .+ \.\.\.$/m);
    expect(text).toContain(`amqp on 127.0.0.1:${broker.port}`);
    expect(text).toMatch(/^Alarms: \(none\)$/m);
    expect(ok(fromCwd)).toBe('name\n/\n');
  });

  it('wrong credentials, a user without the administrator tag, and a broker that is not running: one clear line, exit 1', async () => {
    expect(ok(await http('add_user', 'monitor', 'm0n'))).toContain('Adding user "monitor" ...');
    ok(await http('set_user_tags', 'monitor', 'monitoring'));
    const port = await closedPort();
    const [wrong, env, monitorReads, monitorWrites, down, noSocket] = await Promise.all([
      warren(['ctl', '--url', url, '--user', 'guest', '--password', 'wrong', 'list_queues']),
      // Credentials from the environment.
      warren(['ctl', 'list_users'], { env: { WARREN_CTL_URL: url, WARREN_CTL_USER: 'guest', WARREN_CTL_PASSWORD: 'nope' } }),
      warren(['ctl', '--url', url, '--user', 'monitor', '--password', 'm0n', 'list_queues', '-q']),
      warren(['ctl', '--url', url, '--user', 'monitor', '--password', 'm0n', 'add_user', 'eve', 'x']),
      warren(['ctl', '--url', `http://127.0.0.1:${port}`, 'status']),
      warren(['ctl', '--data-dir', join(dir, 'elsewhere'), 'status']),
    ]);
    failed(wrong, `the broker at ${url} refused the credentials of user 'guest' (401 Not_Authorized)`);
    expect(wrong.stdout).toBe('');
    failed(env, `refused the credentials of user 'guest'`);
    expect(ok(monitorReads)).toMatch(/^name\tmessages\n/);
    failed(monitorWrites, 'access refused: Not administrator user');
    failed(down, `cannot reach the broker at http://127.0.0.1:${port}: is it running?`);
    failed(noSocket, `cannot reach the broker at ${join(dir, 'elsewhere', 'warren.sock')}: is it running?`);
  });

  it('a broker without the management port still has its control socket; it replaces a stale one at start and removes its own at stop', async () => {
    const otherDir = join(dir, 'other');
    mkdirSync(otherDir);
    const socket = join(otherDir, 'warren.sock');
    writeFileSync(socket, 'left behind by a crash');
    const other = await startBroker({ dataDir: otherDir, fsync: false });
    try {
      expect(statSync(socket).isSocket()).toBe(true);
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      expect(other.managementHttpPort).toBe(0);
      const s = json<Json>(await warren(['ctl', '--data-dir', otherDir, 'status', '--formatter', 'json']));
      expect(s.listeners).toContainEqual(expect.objectContaining({ protocol: 'amqp', port: other.port }));
    } finally {
      await other.stop();
    }
    expect(existsSync(socket)).toBe(false);
    failed(await warren(['ctl', '--data-dir', otherDir, 'list_queues']), `cannot reach the broker at ${socket}: is it running?`);
  });

  it('list_queues: rabbitmqctl default columns (name messages), chosen columns, table and JSON, -q, a missing vhost', async () => {
    const ch = await conn.createChannel();
    await ch.assertQueue('lq-work', { durable: true, arguments: { 'x-max-length': 100 } });
    await ch.assertQueue('lq-temp', { durable: false, autoDelete: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue('lq-work', Buffer.from(`m${i}`));
    await ch.prefetch(1);
    const delivered = new Promise<void>((resolve) => void ch.consume('lq-work', () => resolve(), { noAck: false }));
    await delivered;
    await eventually(async () => (await get<Json>(broker, '/api/queues/%2F/lq-work')).messages_unacknowledged === 1);

    const cols = ['name', 'messages', 'messages_ready', 'messages_unacknowledged', 'consumers', 'durable', 'auto_delete', 'arguments'];
    const [table, quiet, chosen, bare, missing] = await Promise.all([
      sock('list_queues'),
      sock('list_queues', '-q'),
      sock('list_queues', ...cols, '--formatter', 'json'),
      http('-q', '--no-table-headers', 'list_queues', 'name', 'messages_ready', 'durable', 'arguments'),
      sock('-p', 'nope', 'list_queues'),
    ]);
    const lines = ok(table).trimEnd().split('\n');
    expect(lines[0]).toBe('Listing queues for vhost / ...');
    expect(lines[1]).toBe('name\tmessages');
    expect(lines).toContain('lq-work\t3');
    expect(lines).toContain('lq-temp\t0');
    expect(ok(quiet).split('\n')[0]).toBe('name\tmessages');
    const rows = json(chosen);
    expect(rows.find((r) => r.name === 'lq-work')).toEqual({ name: 'lq-work', messages: 3, messages_ready: 2, messages_unacknowledged: 1, consumers: 1, durable: true, auto_delete: false, arguments: { 'x-max-length': 100 } });
    expect(rows.find((r) => r.name === 'lq-temp')).toMatchObject({ messages: 0, consumers: 0, durable: false, auto_delete: true });
    expect(ok(bare).split('\n')).toContain('lq-work\t2\ttrue\t{"x-max-length":100}');
    failed(missing, `virtual host 'nope' does not exist`);
    await ch.close();
  });

  it('list_exchanges, list_bindings, list_consumers, list_channels, list_connections: table and JSON', async () => {
    const c = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`, { clientProperties: { connection_name: 'lister' } });
    const ch = await c.createChannel();
    await ch.assertExchange('lx-events', 'topic', { durable: true });
    await ch.assertQueue('lx-q', { durable: false });
    await ch.bindQueue('lx-q', 'lx-events', 'order.#');
    await ch.prefetch(7);
    const { consumerTag } = await ch.consume('lx-q', () => undefined, { noAck: false });
    await eventually(async () => (await get<Json[]>(broker, '/api/consumers')).some((x) => x.consumer_tag === consumerTag));

    const [xTable, xJson, bTable, bJson, cTable, cJson, chJson, chTable, connJson, connTable] = await Promise.all([
      sock('list_exchanges'),
      sock('list_exchanges', 'name', 'type', 'durable', 'auto_delete', 'internal', '--formatter', 'json'),
      sock('list_bindings', '-q'),
      sock('list_bindings', '--formatter', 'json'),
      sock('list_consumers', '-q'),
      sock('list_consumers', '--formatter', 'json'),
      sock('list_channels', 'connection', 'user', 'prefetch_count', 'consumer_count', 'messages_unacknowledged', '--formatter', 'json'),
      sock('list_channels'),
      sock('list_connections', 'name', 'user', 'vhost', 'peer_host', 'state', 'channels', 'user_provided_name', '--formatter', 'json'),
      sock('list_connections'),
    ]);
    expect(ok(xTable).split('\n').slice(0, 2)).toEqual(['Listing exchanges for vhost / ...', 'name\ttype']);
    expect(ok(xTable)).toMatch(/^lx-events\ttopic$/m);
    expect(ok(xTable)).toMatch(/^amq\.fanout\tfanout$/m);
    expect(json(xJson)).toContainEqual({ name: 'lx-events', type: 'topic', durable: true, auto_delete: false, internal: false });
    expect(ok(bTable).split('\n')[0]).toBe('source_name\tsource_kind\tdestination_name\tdestination_kind\trouting_key\targuments');
    expect(ok(bTable)).toMatch(/^lx-events\texchange\tlx-q\tqueue\torder\.#\t\{\}$/m);
    expect(ok(bTable)).toMatch(/^\texchange\tlx-q\tqueue\tlx-q\t\{\}$/m); // the default exchange's implicit binding
    expect(json(bJson)).toContainEqual({ source_name: 'lx-events', source_kind: 'exchange', destination_name: 'lx-q', destination_kind: 'queue', routing_key: 'order.#', arguments: {} });
    expect(ok(cTable).split('\n')[0]).toBe('queue_name\tchannel_pid\tconsumer_tag\tack_required\tprefetch_count\tactive\tactivity_status\targuments');
    const consumer = json(cJson).find((x) => x.consumer_tag === consumerTag)!;
    expect(consumer).toMatchObject({ queue_name: 'lx-q', ack_required: true, prefetch_count: 7, active: true, activity_status: 'up', arguments: {} });
    expect(ok(cTable)).toContain(`lx-q\t${consumer.channel_pid}\t${consumerTag}\ttrue\t7\ttrue\tup\t{}`);
    const connections = json(connJson);
    const mine = connections.find((x) => x.user_provided_name === 'lister')!;
    expect(mine).toMatchObject({ user: 'guest', vhost: '/', peer_host: '127.0.0.1', state: 'running', channels: 1 });
    expect(ok(connTable).split('\n').slice(0, 2)).toEqual(['Listing connections ...', 'user\tpeer_host\tpeer_port\tstate']);
    expect(ok(connTable)).toMatch(/^guest\t127\.0\.0\.1\t\d+\trunning$/m);
    expect(json(chJson)).toContainEqual({ connection: mine.name, user: 'guest', prefetch_count: 7, consumer_count: 1, messages_unacknowledged: 0 });
    expect(ok(chTable).split('\n').slice(0, 2)).toEqual(['Listing channels ...', 'pid\tuser\tconsumer_count\tmessages_unacknowledged']);
    expect(ok(chTable)).toContain(`${consumer.channel_pid}\tguest\t1\t0`);
    await c.close();
  });

  it('users: add_user (the user can then connect), change_password, set_user_tags, list_users, delete_user', async () => {
    ok(await sock('add_user', 'carol', 'first'));
    ok(await sock('set_permissions', 'carol', '^carol-', '.*', '.*'));
    const c1 = await connect(broker, { user: 'carol', password: 'first' });
    await c1.close();
    const [changed, tagged, again, noSuch, noSuchTags] = await Promise.all([
      sock('change_password', 'carol', 'second'),
      sock('set_user_tags', 'carol', 'monitoring', 'management'),
      sock('add_user', 'carol', 'x'),
      sock('change_password', 'nobody', 'x'),
      sock('set_user_tags', 'nobody', 'administrator'),
    ]);
    expect(ok(changed)).toBe('Changing password for user "carol" ...\n');
    expect(ok(tagged)).toBe('Setting tags for user "carol" to [monitoring, management] ...\n');
    failed(again, `user 'carol' already exists`);
    failed(noSuch, `user 'nobody' does not exist`);
    failed(noSuchTags, `user 'nobody' does not exist`);
    await expect(connect(broker, { user: 'carol', password: 'first' })).rejects.toThrow(/ACCESS_REFUSED|403/);
    const c2 = await connect(broker, { user: 'carol', password: 'second' });
    await c2.close();
    const [usersJson, usersTable] = await Promise.all([sock('list_users', '--formatter', 'json'), sock('list_users', '-q')]);
    expect(json(usersJson)).toContainEqual({ user: 'carol', tags: ['monitoring', 'management'] });
    expect(ok(usersTable)).toMatch(/^user\ttags\n/);
    expect(ok(usersTable)).toMatch(/^carol\t\[monitoring, management\]$/m);
    expect(ok(usersTable)).toMatch(/^guest\t\[administrator\]$/m);
    expect(ok(await sock('delete_user', 'carol'))).toBe('Deleting user "carol" ...\n');
    failed(await sock('delete_user', 'carol'), `user 'carol' does not exist`);
    expect(json(await sock('list_users', '--formatter', 'json')).map((u) => u.user)).not.toContain('carol');
    await expect(connect(broker, { user: 'carol', password: 'second' })).rejects.toThrow(/ACCESS_REFUSED|403/);
  });

  it('vhosts and permissions: add_vhost, set_permissions / clear_permissions in -p vhost, set_topic_permissions, the list commands, delete_vhost', async () => {
    expect(ok(await sock('add_vhost', 'staging', '--description', 'pre-prod', '--tags', 'a,b'))).toBe('Adding vhost "staging" ...\n');
    ok(await sock('add_user', 'dave', 'pw'));
    const [perm, topic, noVhost, noUser] = await Promise.all([
      sock('-p', 'staging', 'set_permissions', 'dave', '', '.*', '^in$'),
      sock('set_topic_permissions', '-p', 'staging', 'dave', 'amq.topic', '^a\\.', '.*'),
      sock('-p', 'nowhere', 'set_permissions', 'dave', '.*', '.*', '.*'),
      sock('-p', 'staging', 'set_permissions', 'nobody', '.*', '.*', '.*'),
    ]);
    expect(ok(perm)).toBe('Setting permissions for user "dave" in vhost "staging" ...\n');
    expect(ok(topic)).toBe('Setting topic permissions on "amq.topic" for user "dave" in vhost "staging" ...\n');
    failed(noVhost, `virtual host 'nowhere' does not exist`);
    failed(noUser, `user 'nobody' does not exist`);
    const [vhosts, perms, permsTable, topics, topicsTable] = await Promise.all([
      sock('list_vhosts', 'name', 'description', 'tags', '--formatter', 'json'),
      sock('-p', 'staging', 'list_permissions', '--formatter', 'json'),
      sock('-p', 'staging', 'list_permissions'),
      sock('-p', 'staging', 'list_topic_permissions', '--formatter', 'json'),
      sock('-p', 'staging', 'list_topic_permissions', '-q'),
    ]);
    expect(json(vhosts)).toContainEqual({ name: 'staging', description: 'pre-prod', tags: ['a', 'b'] });
    expect(json(perms)).toEqual([{ user: 'dave', configure: '', write: '.*', read: '^in$' }]);
    expect(ok(permsTable)).toBe('Listing permissions for vhost "staging" ...\nuser\tconfigure\twrite\tread\ndave\t\t.*\t^in$\n');
    expect(json(topics)).toEqual([{ user: 'dave', exchange: 'amq.topic', write: '^a\\.', read: '.*' }]);
    expect(ok(topicsTable)).toBe('user\texchange\twrite\tread\ndave\tamq.topic\t^a\\.\t.*\n');
    const c = await connect(broker, { user: 'dave', password: 'pw', vhost: 'staging' });
    await c.close();

    expect(ok(await sock('-p', 'staging', 'clear_permissions', 'dave'))).toBe('Clearing permissions for user "dave" in vhost "staging" ...\n');
    expect(json(await sock('-p', 'staging', 'list_permissions', '--formatter', 'json'))).toEqual([]);
    await expect(connect(broker, { user: 'dave', password: 'pw', vhost: 'staging' })).rejects.toThrow(/ConnectionClose|NOT_ALLOWED|530/);
    ok(await sock('-p', 'staging', 'clear_permissions', 'dave')); // nothing left to clear: still done

    expect(ok(await sock('delete_vhost', 'staging'))).toBe('Deleting vhost "staging" ...\n');
    failed(await sock('delete_vhost', 'staging'), `virtual host 'staging' does not exist`);
    expect(json(await sock('list_vhosts', '--formatter', 'json'))).toEqual([{ name: '/' }]);
  });

  it('policies: set_policy (--priority, --apply-to) takes effect on queues, list_policies shows it, clear_policy removes it; bad input is refused', async () => {
    const [set, badPattern, badJson, badPriority] = await Promise.all([
      sock('set_policy', '--priority', '5', '--apply-to', 'queues', 'cap', '^pol-', '{"max-length":2}'),
      sock('set_policy', 'broken', '(', '{}'),
      sock('set_policy', 'broken', '.*', '{max-length: 2}'),
      sock('set_policy', '--priority', 'high', 'broken', '.*', '{}'),
    ]);
    expect(ok(set)).toBe('Setting policy "cap" for pattern "^pol-" to "{"max-length":2}" with priority "5" for vhost "/" ...\n');
    failed(badPattern, 'pattern should be regular expression but is invalid');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^warren ctl: set_policy: <definition> is not valid JSON/);
    expect(badPriority.code).toBe(2);
    expect(badPriority.stderr).toMatch(/^warren ctl: --priority expects an integer, got 'high'$/m);
    const [listed, table] = await Promise.all([sock('list_policies', '--formatter', 'json'), sock('list_policies')]);
    expect(json(listed)).toEqual([{ vhost: '/', name: 'cap', pattern: '^pol-', 'apply-to': 'queues', definition: { 'max-length': 2 }, priority: 5 }]);
    expect(ok(table)).toBe('Listing policies for vhost "/" ...\nvhost\tname\tpattern\tapply-to\tdefinition\tpriority\n/\tcap\t^pol-\tqueues\t{"max-length":2}\t5\n');

    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('pol-q', { durable: false });
    for (let i = 0; i < 5; i++) ch.sendToQueue('pol-q', Buffer.from(`m${i}`));
    await ch.waitForConfirms();
    expect((await ch.checkQueue('pol-q')).messageCount).toBe(2); // the policy's max-length (drop-head)

    expect(ok(await sock('clear_policy', 'cap'))).toBe('Clearing policy "cap" on vhost "/" ...\n');
    expect(json(await sock('list_policies', '--formatter', 'json'))).toEqual([]);
    failed(await sock('clear_policy', 'cap'), `policy 'cap' in vhost '/' does not exist`);
    await ch.deleteQueue('pol-q');
    await ch.close();
  });

  it('set_vhost_limits replaces the vhost limits: max-connections enforced, then lifted', async () => {
    ok(await sock('add_vhost', 'limited'));
    ok(await sock('-p', 'limited', 'set_permissions', 'guest', '.*', '.*', '.*'));
    expect(ok(await sock('-p', 'limited', 'set_vhost_limits', '{"max-connections": 1, "max-queues": 10}'))).toBe('Applying limits to vhost "limited": {"max-connections": 1, "max-queues": 10} ...\n');
    expect(await get<Json[]>(broker, '/api/vhost-limits/limited')).toEqual([{ vhost: 'limited', value: { 'max-connections': 1, 'max-queues': 10 } }]);
    const first = await connect(broker, { vhost: 'limited' });
    await expect(connect(broker, { vhost: 'limited' })).rejects.toThrow(/ConnectionClose|NOT_ALLOWED|530/);
    // The whole document is replaced: max-connections goes.
    ok(await sock('-q', '-p', 'limited', 'set_vhost_limits', '{"max-queues": 10}'));
    expect(await get<Json[]>(broker, '/api/vhost-limits/limited')).toEqual([{ vhost: 'limited', value: { 'max-queues': 10 } }]);
    const second = await connect(broker, { vhost: 'limited' });
    await Promise.all([first.close(), second.close()]);
    const [badName, badJson, noVhost] = await Promise.all([
      sock('-p', 'limited', 'set_vhost_limits', '{"max-bananas": 3}'),
      sock('-p', 'limited', 'set_vhost_limits', 'max-connections=3'),
      sock('-p', 'nowhere', 'set_vhost_limits', '{}'),
    ]);
    failed(badName, 'is not a valid limit');
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^warren ctl: set_vhost_limits: <definition> is not valid JSON/);
    failed(noVhost, `virtual host 'nowhere' does not exist`);
    ok(await sock('delete_vhost', 'limited'));
  });

  it('purge_queue empties a queue with known messages; delete_queue (--if-empty refuses a non-empty one); missing queues are named', async () => {
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('pq', { durable: true });
    await ch.assertQueue('dq', { durable: false });
    for (let i = 0; i < 5; i++) ch.sendToQueue('pq', Buffer.from(`p${i}`), { persistent: true });
    ch.sendToQueue('dq', Buffer.from('keep'));
    await ch.waitForConfirms();
    expect((await get<Json>(broker, '/api/queues/%2F/pq')).messages).toBe(5);

    const [purged, ifEmpty, purgeMissing, deleteMissing] = await Promise.all([sock('purge_queue', 'pq'), sock('delete_queue', 'dq', '--if-empty'), sock('purge_queue', 'ghost'), sock('delete_queue', 'ghost')]);
    expect(ok(purged)).toBe(`Purging queue 'pq' in vhost '/' ...\n`);
    expect((await get<Json>(broker, '/api/queues/%2F/pq')).messages).toBe(0);
    expect((await ch.checkQueue('pq')).messageCount).toBe(0);
    failed(ifEmpty, /^warren ctl: .*not empty/i);
    expect((await ch.checkQueue('dq')).messageCount).toBe(1);
    failed(purgeMissing, `queue 'ghost' in vhost '/' does not exist`);
    failed(deleteMissing, `queue 'ghost' in vhost '/' does not exist`);

    expect(ok(await sock('delete_queue', 'dq'))).toBe(`Deleting queue 'dq' on vhost '/' ...\n`);
    expect(ok(await sock('delete_queue', '-q', 'pq', '--if-unused', '--if-empty'))).toBe('');
    const names = json(await sock('list_queues', '--formatter', 'json')).map((q) => q.name);
    expect(names).not.toContain('dq');
    expect(names).not.toContain('pq');
    await ch.close();
  });

  it('close_connection: the client sees 320 CONNECTION_FORCED with the reason', async () => {
    const victim = await amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`, { clientProperties: { connection_name: 'victim' } });
    // amqplib reports a server-forced close as a 'close' event carrying the error.
    const closed = new Promise<Error & { code?: number }>((resolve) => victim.once('close', (err: Error & { code?: number }) => resolve(err)));
    const list = json(await sock('list_connections', 'name', 'user_provided_name', '--formatter', 'json'));
    const name = list.find((c) => c.user_provided_name === 'victim')!.name as string;
    expect(ok(await sock('close_connection', name, 'maintenance window'))).toBe(`Closing connection ${name}, reason: maintenance window...\n`);
    const err = await closed;
    expect(err.code).toBe(320);
    expect(err.message).toContain('CONNECTION_FORCED - maintenance window');
    await eventually(async () => !(await get<Json[]>(broker, '/api/connections')).some((c) => c.name === name), 10_000, 'connection gone');
    failed(await sock('close_connection', name, 'again'), `connection '${name}' does not exist`);
  });

  it('export_definitions (file and stdout) and import_definitions (file and stdin); bad files are refused', async () => {
    const file = join(dir, 'defs.json');
    const [toFile, toStdout] = await Promise.all([sock('export_definitions', file), http('export_definitions', '-')]);
    expect(ok(toFile)).toBe(`Exporting definitions in JSON to a file at "${file}" ...\n`);
    const exported = JSON.parse(readFileSync(file, 'utf8')) as Json;
    expect(exported.users.map((u: Json) => u.name)).toContain('guest');
    expect(exported.vhosts.map((v: Json) => v.name)).toContain('/');
    expect(JSON.parse(ok(toStdout)).users).toEqual(exported.users);

    const doc = {
      vhosts: [{ name: 'imported' }],
      queues: [{ name: 'from-file', vhost: 'imported', durable: true, auto_delete: false, arguments: {} }],
      permissions: [{ user: 'guest', vhost: 'imported', configure: '.*', write: '.*', read: '.*' }],
    };
    const importFile = join(dir, 'import.json');
    writeFileSync(importFile, JSON.stringify(doc));
    expect(ok(await sock('import_definitions', importFile))).toBe(`Importing definitions in JSON from a file at "${importFile}" ...\n`);
    const viaStdin = { queues: [{ name: 'from-stdin', vhost: 'imported', durable: false, auto_delete: false, arguments: {} }] };
    expect(ok(await warren(['ctl', '--data-dir', dataDir, '-q', 'import_definitions'], { input: JSON.stringify(viaStdin) }))).toBe('');
    expect(json(await sock('-p', 'imported', 'list_queues', 'name', 'durable', '--formatter', 'json'))).toEqual([
      { name: 'from-file', durable: true },
      { name: 'from-stdin', durable: false },
    ]);

    const badFile = join(dir, 'bad.json');
    writeFileSync(badFile, '{"queues": [');
    const [bad, absent, wrongShape] = await Promise.all([
      sock('import_definitions', badFile),
      sock('import_definitions', join(dir, 'absent.json')),
      warren(['ctl', '--data-dir', dataDir, 'import_definitions', '-'], { input: '[1,2]' }),
    ]);
    failed(bad, `${badFile} is not valid JSON`);
    failed(absent, `cannot read ${join(dir, 'absent.json')}`);
    failed(wrongShape, 'standard input must hold a JSON object');
    expect(existsSync(join(dataDir, 'warren.sock'))).toBe(true);
  });
});
