// Policies and limits in the definitions journal: `setting` records survive
// replay and compaction; deleting a vhost drops its settings, deleting a user
// its limits; a record of an unknown kind is skipped like any bad record.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DefinitionsJournal } from '../../src/store/definitions.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function journalPath(): string {
  const d = mkdtempSync(join(tmpdir(), 'warren-settings-'));
  dirs.push(d);
  return join(d, 'definitions.log');
}

const quiet = pino({ level: 'silent' });
const settings = (path: string) => [...DefinitionsJournal.open(path, false, quiet).definitions.settings.values()];

describe('definitions journal: policy and limit records', () => {
  it('replays, compacts, and follows vhost and user deletion', () => {
    const path = journalPath();
    const { journal } = DefinitionsJournal.open(path, false, quiet);
    journal.vhostPut({ name: 'a', description: '', tags: [] });
    journal.vhostPut({ name: 'b', description: '', tags: [] });
    journal.userPut({ name: 'u', hash: 'h', algorithm: 'rabbit_password_hashing_sha256', tags: [] });
    journal.settingPut({ kind: 'policy', vhost: 'a', name: 'p', value: '{"pattern":"^x"}' });
    journal.settingPut({ kind: 'policy', vhost: 'a', name: 'p', value: '{"pattern":"^y"}' });
    journal.settingPut({ kind: 'operator-policy', vhost: 'b', name: 'op', value: '{}' });
    journal.settingPut({ kind: 'vhost-limits', vhost: 'a', name: 'limits', value: '{"max-queues":3}' });
    journal.settingPut({ kind: 'user-limits', vhost: '', name: 'u', value: '{"max-channels":2}' });
    journal.settingPut({ kind: 'policy', vhost: 'b', name: 'gone', value: '{}' });
    journal.settingDeleted('policy', 'b', 'gone');
    journal.close();
    expect(settings(path)).toEqual([
      { kind: 'policy', vhost: 'a', name: 'p', value: '{"pattern":"^y"}' },
      { kind: 'operator-policy', vhost: 'b', name: 'op', value: '{}' },
      { kind: 'vhost-limits', vhost: 'a', name: 'limits', value: '{"max-queues":3}' },
      { kind: 'user-limits', vhost: '', name: 'u', value: '{"max-channels":2}' },
    ]);
    // Opened again after compaction: the same.
    const again = DefinitionsJournal.open(path, false, quiet);
    expect([...again.definitions.settings.values()]).toHaveLength(4);
    again.journal.vhostDeleted('a');
    again.journal.userDeleted('u');
    again.journal.close();
    expect(settings(path)).toEqual([{ kind: 'operator-policy', vhost: 'b', name: 'op', value: '{}' }]);
  });

  it('a setting record of an unknown kind is skipped, the others kept', () => {
    const path = journalPath();
    writeFileSync(path, [
      JSON.stringify({ op: 'setting', kind: 'federation', vhost: '/', name: 'x', value: '{}' }),
      JSON.stringify({ op: 'setting', kind: 'policy', vhost: '/', name: 'ok', value: '{}' }),
      '',
    ].join('\n'));
    expect(settings(path).map((s) => s.name)).toEqual(['ok']);
    expect(readFileSync(path, 'utf8')).not.toContain('federation');
  });
});
