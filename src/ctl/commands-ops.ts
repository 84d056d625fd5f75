import { readFile, writeFile } from 'node:fs/promises';
import { CtlError, seg } from './client.js';
import type { Command } from './command.js';
import { banner, printRecord } from './output.js';

/** rabbitmqctl's node, queue, connection and definitions commands. */

type Item = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

const status: Command = {
  name: 'status',
  args: '',
  summary: 'node status: version, uptime, listeners, totals, memory and disk against their limits, alarms',
  arity: [0, 0],
  async run(ctx) {
    const overview = (await ctx.api.expect('GET', '/api/overview')) as Item;
    const node = (await ctx.api.expect('GET', `/api/nodes/${seg(String(overview.node))}`)) as Item;
    const totals = (overview.object_totals ?? {}) as Item;
    const queued = (overview.queue_totals ?? {}) as Item;
    const listeners = ((overview.listeners ?? []) as Item[]).map((l) => ({ protocol: l.protocol, ip_address: l.ip_address, port: l.port }));
    const alarms = [...(node.mem_alarm === true ? ['memory'] : []), ...(node.disk_free_alarm === true ? ['disk'] : [])];
    const record = {
      node: overview.node,
      product_name: overview.product_name,
      product_version: overview.product_version,
      rabbitmq_version: overview.rabbitmq_version,
      runtime: overview.erlang_version,
      os_pid: node.os_pid,
      uptime_seconds: Math.floor(num(node.uptime) / 1000),
      data_directory: node.db_dir,
      listeners,
      totals: { connections: totals.connections, channels: totals.channels, exchanges: totals.exchanges, queues: totals.queues, consumers: totals.consumers },
      messages: { total: queued.messages, ready: queued.messages_ready, unacknowledged: queued.messages_unacknowledged },
      memory: { used: node.mem_used, high_watermark: node.mem_limit, alarm: node.mem_alarm === true },
      disk: { free: node.disk_free, free_limit: node.disk_free_limit, alarm: node.disk_free_alarm === true },
      file_descriptors: { used: node.fd_used, total: node.fd_total },
      alarms,
    };
    banner(ctx.out, `Status of node ${String(overview.node)} ...`);
    printRecord(ctx.out, record, [
      `Product: ${String(overview.product_name)} ${String(overview.product_version)} (RabbitMQ ${String(overview.rabbitmq_version)} compatible)`,
      `Runtime: ${String(overview.erlang_version)}`,
      `OS PID: ${String(node.os_pid)}`,
      `Uptime (seconds): ${record.uptime_seconds}`,
      `Data directory: ${String(node.db_dir || '(none: in memory)')}`,
      'Listeners:',
      ...listeners.map((l) => `  ${String(l.protocol)} on ${String(l.ip_address)}:${String(l.port)}`),
      `Totals: connections ${String(totals.connections)}, channels ${String(totals.channels)}, exchanges ${String(totals.exchanges)}, queues ${String(totals.queues)}, consumers ${String(totals.consumers)}`,
      `Messages: ${String(queued.messages)} (ready ${String(queued.messages_ready)}, unacknowledged ${String(queued.messages_unacknowledged)})`,
      `Memory: ${String(node.mem_used)} bytes used, high watermark ${String(node.mem_limit)} bytes`,
      `Disk: ${String(node.disk_free)} bytes free, free limit ${String(node.disk_free_limit)} bytes`,
      `File descriptors: ${String(node.fd_used)} used of ${String(node.fd_total)}`,
      `Alarms: ${alarms.length === 0 ? '(none)' : alarms.join(', ')}`,
    ]);
  },
};

const noQueue = (name: string, vhost: string): string => `queue '${name}' in vhost '${vhost}' does not exist`;

const purgeQueue: Command = {
  name: 'purge_queue',
  args: '<queue>',
  summary: 'removes every ready message from a queue in the vhost (-p)',
  arity: [1, 1],
  async run(ctx, [queue]) {
    banner(ctx.out, `Purging queue '${queue}' in vhost '${ctx.vhost}' ...`);
    await ctx.api.expect('DELETE', `/api/queues/${seg(ctx.vhost)}/${seg(queue!)}/contents`, { notFound: noQueue(queue!, ctx.vhost) });
  },
};

const deleteQueue: Command = {
  name: 'delete_queue',
  args: '<queue>',
  summary: 'deletes a queue in the vhost (-p); --if-empty, --if-unused refuse otherwise',
  arity: [1, 1],
  options: ['if-empty', 'if-unused'],
  async run(ctx, [queue]) {
    banner(ctx.out, `Deleting queue '${queue}' on vhost '${ctx.vhost}' ...`);
    const query = new URLSearchParams();
    if (ctx.options['if-empty'] === true) query.set('if-empty', 'true');
    if (ctx.options['if-unused'] === true) query.set('if-unused', 'true');
    const q = query.size > 0 ? `?${query.toString()}` : '';
    await ctx.api.expect('DELETE', `/api/queues/${seg(ctx.vhost)}/${seg(queue!)}${q}`, { notFound: noQueue(queue!, ctx.vhost) });
  },
};

const closeConnection: Command = {
  name: 'close_connection',
  args: '<connection name> <reason>',
  summary: 'closes a client connection (320 CONNECTION_FORCED with the reason); names as in list_connections name',
  arity: [2, 2],
  async run(ctx, [name, reason]) {
    banner(ctx.out, `Closing connection ${name}, reason: ${reason}...`);
    await ctx.api.expect('DELETE', `/api/connections/${seg(name!)}`, { headers: { 'x-reason': reason! }, notFound: `connection '${name}' does not exist` });
  },
};

const exportDefinitions: Command = {
  name: 'export_definitions',
  args: '<file | ->',
  summary: 'writes the definitions (users, vhosts, permissions, exchanges, queues, bindings…) as JSON to a file or stdout',
  arity: [1, 1],
  async run(ctx, [path]) {
    const toStdout = path === '-';
    if (!toStdout) banner(ctx.out, `Exporting definitions in JSON to a file at "${path}" ...`);
    const doc = await ctx.api.expect('GET', '/api/definitions');
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    if (toStdout) ctx.out.write(text);
    else {
      try {
        await writeFile(path!, text);
      } catch (err) {
        throw new CtlError(`cannot write ${path}: ${(err as Error).message}`);
      }
    }
  },
};

const importDefinitions: Command = {
  name: 'import_definitions',
  args: '[<file | ->]',
  summary: 'imports a definitions file (RabbitMQ JSON, as export_definitions writes); none or - reads stdin',
  arity: [0, 1],
  async run(ctx, [path]) {
    const fromStdin = path === undefined || path === '-';
    banner(ctx.out, fromStdin ? 'Importing definitions in JSON from standard input ...' : `Importing definitions in JSON from a file at "${path}" ...`);
    let text: string;
    try {
      text = fromStdin ? await ctx.readStdin() : await readFile(path, 'utf8');
    } catch (err) {
      throw new CtlError(`cannot read ${path ?? 'standard input'}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new CtlError(`${fromStdin ? 'standard input' : path} is not valid JSON: ${(err as Error).message}`);
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new CtlError(`${fromStdin ? 'standard input' : path} must hold a JSON object (RabbitMQ's definitions format)`);
    await ctx.api.expect('POST', '/api/definitions', { body: doc });
  },
};

export const OPS_COMMANDS: readonly Command[] = [status, purgeQueue, deleteQueue, closeConnection, exportDefinitions, importDefinitions];
