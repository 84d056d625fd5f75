// The definitions journal's group commit: a change is written at once (a full
// disk refuses it before the model changes) and made durable by an fdatasync
// off the event loop; whenSynced waiters hear of it only after that sync, and
// every line appended before a waiter asked is covered by the sync it waits for.
import { mkdtempSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DefinitionsJournal, DefinitionsWriteError, type JournalFileIo } from '../../src/store/definitions.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function journalPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-journal-sync-'));
  dirs.push(d);
  return join(d, 'definitions.log');
}

const quiet = pino({ level: 'silent' });
const synced = (j: DefinitionsJournal): Promise<void> => new Promise((resolve) => j.whenSynced(resolve));

describe('definitions journal: asynchronous group commit', () => {
  it('tells waiters only after the sync, in the order they asked, and counts appends', async () => {
    const path = journalPath();
    const { journal } = DefinitionsJournal.open(path, true, quiet);
    expect(journal.synced).toBe(true);
    const told: string[] = [];
    journal.whenSynced(() => told.push('nothing pending'));
    expect(told).toEqual(['nothing pending']);

    const before = journal.appends;
    journal.queueDeclared('/', { name: 'q1', id: journal.allocateQueueId(), autoDelete: false, arguments: {} });
    expect(journal.appends).toBe(before + 1);
    // Written at once, durable later: the waiter is not told synchronously.
    expect(readFileSync(path, 'utf8')).toContain('"name":"q1"');
    expect(journal.synced).toBe(false);
    journal.whenSynced(() => told.push('q1'));
    journal.exchangeDeclared('/', { name: 'x1', type: 'fanout', autoDelete: false, internal: false, arguments: {} });
    journal.whenSynced(() => told.push('x1'));
    expect(told).toEqual(['nothing pending']);
    await synced(journal);
    expect(told).toEqual(['nothing pending', 'q1', 'x1']);
    expect(journal.synced).toBe(true);
    await journal.close();

    const again = DefinitionsJournal.open(path, true, quiet);
    const v = again.definitions.vhosts.get('/')!;
    expect([...v.queues.keys()]).toEqual(['q1']);
    expect([...v.exchanges.keys()]).toEqual(['x1']);
    await again.journal.close();
  });

  it('covers changes made while a sync is in flight with the next sync', async () => {
    const path = journalPath();
    const { journal } = DefinitionsJournal.open(path, true, quiet);
    const told: number[] = [];
    for (let i = 0; i < 20; i++) {
      journal.vhostPut({ name: `v${i}`, description: '', tags: [] });
      journal.whenSynced(() => told.push(i));
      // Some appends land while the previous sync runs.
      if (i % 5 === 4) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await synced(journal);
    expect(told).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await journal.close();
    expect(DefinitionsJournal.open(path, false, quiet).definitions.auth.vhosts.size).toBe(20);
  });

  it('syncs what is left when closed, and tells the waiters', async () => {
    const path = journalPath();
    const { journal } = DefinitionsJournal.open(path, true, quiet);
    let told = false;
    journal.userPut({ name: 'u', hash: 'h', algorithm: 'rabbit_password_hashing_sha256', tags: [] });
    journal.whenSynced(() => { told = true; });
    await journal.close();
    expect(told).toBe(true);
    expect(DefinitionsJournal.open(path, false, quiet).definitions.auth.users.has('u')).toBe(true);
  });

  describe('a write failure whose torn line cannot be cut off', () => {
    // Writes after the first `good` ones fail with EIO, and so does the truncate that
    // would cut the torn line off (a failing disk).
    function failingAfter(good: number): JournalFileIo {
      let writes = 0;
      const eio = (syscall: string): Error => Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', syscall });
      return {
        write: (fd, buffer, offset, length) => {
          if (++writes > good) throw eio('write');
          return writeSync(fd, buffer, offset, length);
        },
        truncate: () => {
          throw eio('ftruncate');
        },
      };
    }

    it('fails the journal (onFailure) when lines written before it are not synced yet, instead of leaving their waiters for ever', async () => {
      const path = journalPath();
      const { journal } = DefinitionsJournal.open(path, true, quiet, failingAfter(1));
      const failures: Error[] = [];
      journal.onFailure = (err) => failures.push(err);
      let told = false;
      journal.vhostPut({ name: 'a', description: '', tags: [] });
      journal.whenSynced(() => { told = true; });
      // Same tick: A's sync has not run yet.
      expect(() => journal.vhostPut({ name: 'b', description: '', tags: [] })).toThrow(DefinitionsWriteError);
      expect(failures.map((e) => e.message)).toEqual(['EIO: i/o error, write']);
      // Nothing more is accepted, and nothing is promised durable that may not be.
      expect(() => journal.vhostPut({ name: 'c', description: '', tags: [] })).toThrow(/cannot be written \(EIO: i\/o error, write\)/);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(told).toBe(false);
      expect(journal.synced).toBe(false);
      await journal.close();
      expect(readFileSync(path, 'utf8')).toContain('"name":"a"');
    });

    it('only refuses further changes when everything written before is synced (nothing is waiting)', async () => {
      const path = journalPath();
      const { journal } = DefinitionsJournal.open(path, true, quiet, failingAfter(1));
      const failures: Error[] = [];
      journal.onFailure = (err) => failures.push(err);
      journal.vhostPut({ name: 'a', description: '', tags: [] });
      await synced(journal);
      expect(() => journal.vhostPut({ name: 'b', description: '', tags: [] })).toThrow(DefinitionsWriteError);
      expect(() => journal.vhostPut({ name: 'c', description: '', tags: [] })).toThrow(/cannot be written/);
      expect(failures).toEqual([]);
      expect(journal.synced).toBe(true);
      await journal.close();
      expect(DefinitionsJournal.open(path, false, quiet).definitions.auth.vhosts.has('a')).toBe(true);
    });
  });
});
