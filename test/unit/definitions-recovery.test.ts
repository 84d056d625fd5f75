// Start-up never fails on a definitions record it cannot apply: the record is
// logged at error with its line and reason and skipped, the file as it was is
// copied aside, and everything else is restored. Arguments nested tens of
// thousands deep are journaled and read back.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ByteWriter, encodeTable } from '../../src/protocol/index.js';
import { DefinitionsJournal } from '../../src/store/definitions.js';
import { deepTable, deepTableMismatch } from '../helpers/deep-table.js';
import { capturingLogger } from '../helpers/log-capture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function journalPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-defs-'));
  dirs.push(d);
  return join(d, 'definitions.log');
}

const args = (t: Record<string, unknown>): string => {
  const w = new ByteWriter();
  encodeTable(w, t as never);
  return Buffer.from(w.take()).toString('base64');
};

describe('definitions journal recovery', () => {
  it('skips records it cannot apply, logging each at error, and restores the rest', () => {
    const path = journalPath();
    const truncatedArgs = Buffer.from(args({ 'x-max-length': 5 }), 'base64').subarray(0, 9).toString('base64');
    const lines = [
      JSON.stringify({ op: 'queue', vhost: '/', name: 'good', id: 1, autoDelete: false, args: args({ 'x-max-length': 5 }) }),
      '{not json}',
      JSON.stringify({ op: 'frobnicate', vhost: '/' }),
      JSON.stringify({ op: 'queue', vhost: '/', name: 'bad-args', id: 2, autoDelete: false, args: truncatedArgs }),
      JSON.stringify({ op: 'queue', vhost: '/', id: 3, autoDelete: false, args: '' }),
      JSON.stringify({ op: 'bind', vhost: '/', source: 'x', kind: 'table', destination: 'good', routingKey: '', args: args({}) }),
      JSON.stringify({ op: 'exchange', vhost: '/', name: 'x', type: 'topic', autoDelete: false, internal: false, args: args({}) }),
      JSON.stringify({ op: 'bind', vhost: '/', source: 'x', kind: 'queue', destination: 'good', routingKey: 'a.#', args: args({}) }),
    ];
    const original = `${lines.join('\n')}\n{"op":"queue","vh`; // and a torn last line (not an error: never acknowledged)
    writeFileSync(path, original);
    const { logger, lines: records } = capturingLogger();

    const { journal, definitions } = DefinitionsJournal.open(path, false, logger);
    journal.close();

    const v = definitions.vhosts.get('/')!;
    expect([...v.queues.keys()]).toEqual(['good']);
    expect(v.queues.get('good')!.arguments).toEqual({ 'x-max-length': 5 });
    expect([...v.exchanges.keys()]).toEqual(['x']);
    expect(v.bindings.map((b) => `${b.source}->${b.destination}:${b.routingKey}`)).toEqual(['x->good:a.#']);
    expect(definitions.nextQueueId).toBe(2);

    const skips = records.filter((r) => r['msg'] === 'definitions: skipping a record that cannot be applied');
    expect(skips.map((r) => [r['level'], r['line']])).toEqual([[50, 2], [50, 3], [50, 4], [50, 5], [50, 6]]);
    expect(skips.every((r) => r['file'] === path)).toBe(true);
    expect(skips[0]!['record']).toBe('{not json}');
    expect(skips[1]!['err']).toBe('unknown record type "frobnicate"');
    expect(skips[2]!['err']).toMatch(/^SYNTAX_ERROR - truncated field/);
    expect(skips[3]!['err']).toBe("queue record: 'name' is missing or not a string");
    expect(skips[4]!['err']).toBe("bind record: 'kind' must be 'queue' or 'exchange'");

    // The file as it was is kept beside the compacted journal, and the summary names it.
    const summary = records.find((r) => r['msg'] === 'definitions: records were skipped; the file as it was is kept in the copy')!;
    expect(summary['skipped']).toBe(5);
    const copies = readdirSync(join(path, '..')).filter((f) => f.startsWith('definitions.log.skipped-'));
    expect(copies.length).toBe(1);
    expect(summary['copy']).toBe(join(path, '..', copies[0]!));
    expect(readFileSync(summary['copy'] as string, 'utf8')).toBe(original);

    // The compacted journal holds only what applied: opening it again logs nothing.
    const again = capturingLogger();
    const reopened = DefinitionsJournal.open(path, false, again.logger);
    reopened.journal.close();
    expect(again.lines).toEqual([]);
    expect([...reopened.definitions.vhosts.get('/')!.queues.keys()]).toEqual(['good']);
  });

  for (const depth of [1_000, 5_000, 50_000]) {
    it(`journals queue arguments nested ${depth.toLocaleString('en')} deep and reads them back`, () => {
      const path = journalPath();
      const { logger, lines: records } = capturingLogger();
      const first = DefinitionsJournal.open(path, false, logger);
      first.journal.queueDeclared('/', { name: 'deep', id: first.journal.allocateQueueId(), autoDelete: false, arguments: { 'x-deep': deepTable(depth) } });
      first.journal.close();
      for (let round = 0; round < 2; round++) { // replayed, then from the compacted rewrite
        const { journal, definitions } = DefinitionsJournal.open(path, false, logger);
        journal.close();
        const q = definitions.vhosts.get('/')!.queues.get('deep')!;
        expect(deepTableMismatch(q.arguments['x-deep'], depth)).toBeNull();
      }
      expect(records).toEqual([]);
    });
  }
});
