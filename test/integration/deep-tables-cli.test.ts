// The `warren` process on a data directory holding a durable queue declared
// with arguments nested 50,000 deep, plus a journal record it cannot apply:
// it starts (the record logged at error and skipped), serves the queue, and
// stops with exit code 0. Before, such a directory made it exit 1 (or 2).
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MethodId } from '../../src/protocol/index.js';
import { startChildBroker, type ChildBroker } from '../helpers/child-broker.js';
import { deepTable, deepTableMismatch } from '../helpers/deep-table.js';
import { RawClient } from '../helpers/raw-client.js';

const DEPTH = 50_000;
const WAIT = 30_000;

const dirs: string[] = [];
const children: ChildBroker[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      c.proc.kill('SIGKILL');
      await c.exited;
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(dataDir: string): Promise<ChildBroker> {
  const child = await startChildBroker(['--data-dir', dataDir, '--frame-max', String(4 * 1024 * 1024), '--log-level', 'info']);
  children.push(child);
  return child;
}

async function stop(child: ChildBroker): Promise<number | null> {
  child.proc.kill('SIGTERM');
  return (await child.exited).code;
}

describe('warren on a data directory with deep arguments and a bad record', () => {
  it('starts, skips and logs the bad record, serves the deep queue, exits 0', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-deep-cli-'));
    dirs.push(dir);
    const first = await start(dir);
    const c = await RawClient.open(first.port);
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'deep-q', durable: true, arguments: { 'x-deep': deepTable(DEPTH) } } });
    await c.waitForMethod(MethodId.QueueDeclareOk, 1, WAIT);
    await c.close();
    expect(await stop(first)).toBe(0);

    appendFileSync(join(dir, 'definitions.log'), '{"op":"queue","vhost":"/","name":"broken"}\n');
    const second = await start(dir);
    const skipped = second.lines.find((l) => l['msg'] === 'definitions: skipping a record that cannot be applied');
    expect(skipped && [skipped['level'], skipped['err']]).toEqual([50, "queue record: 'id' is missing or not a number"]);

    // The queue came back with its arguments (as the management API shows them).
    const mgmtPort = second.lines.find((l) => l['msg'] === 'management API listening')!['port'] as number;
    const res = await fetch(`http://127.0.0.1:${mgmtPort}/api/queues/%2F/deep-q`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    expect(res.status).toBe(200);
    const queue = JSON.parse(await res.text()) as { durable: boolean; arguments: Record<string, unknown> };
    expect(queue.durable).toBe(true);
    expect(deepTableMismatch(queue.arguments['x-deep'], DEPTH)).toBeNull();

    const again = await RawClient.open(second.port);
    await again.openChannel(1);
    again.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'deep-q', passive: true } });
    expect((await again.waitForMethod(MethodId.QueueDeclareOk, 1, WAIT)).queue).toBe('deep-q');
    again.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'broken', passive: true } });
    expect((await again.waitForMethod(MethodId.ChannelClose, 1, WAIT)).replyCode).toBe(404);
    again.destroy();
    expect(await stop(second)).toBe(0);
  });
});
