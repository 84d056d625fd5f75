/**
 * The data-directory lock when several brokers start at once on one directory:
 * exactly one may win, whether the directory is fresh or holds a stale lock
 * left by a crashed broker (the case where a starter reading a half-written
 * lock, or two starters taking over the same stale lock, let two win).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const LOCK_JS = fileURLToPath(new URL('../../dist/store/lock.js', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A child that tries the lock, says "won" or "locked", and holds what it won until its stdin closes. */
const CHILD = `
const { DataDirLock } = await import(process.argv[1]);
let lock = null;
try { lock = DataDirLock.acquire(process.argv[2]); process.stdout.write('won\\n'); }
catch (err) { process.stdout.write(err.constructor.name === 'DataDirLockedError' ? 'locked\\n' : 'error ' + err.message + '\\n'); }
process.stdin.on('end', () => { lock?.release(); process.exit(0); });
process.stdin.resume();
`;

async function race(dir: string, starters: number): Promise<string[]> {
  const children = Array.from({ length: starters }, () => spawn(process.execPath, ['--input-type=module', '-e', CHILD, LOCK_JS, dir], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const answers = await Promise.all(
    children.map(
      (c) =>
        new Promise<string>((resolve) => {
          let out = '';
          c.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.endsWith('\n')) resolve(out.trim());
          });
        }),
    ),
  );
  await Promise.all(children.map((c) => new Promise((r) => { c.on('exit', r); c.stdin.end(); })));
  return answers;
}

describe('data-directory lock under simultaneous starts', () => {
  it('exactly one of six starters wins, on a fresh directory and over a stale lock, round after round', async () => {
    if (!existsSync(LOCK_JS)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
    for (let round = 0; round < 8; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'warren-lock-race-'));
      dirs.push(dir);
      // Odd rounds: a lock left by a process that is gone (a pid above Linux's largest possible pid_max, 2^22).
      if (round % 2 === 1) writeFileSync(join(dir, 'warren.lock'), `${2 ** 22 + 1} 12345\n`);
      const answers = await race(dir, 6);
      expect(answers.filter((a) => a === 'won'), `round ${round}: ${answers.join(', ')}`).toHaveLength(1);
      expect(answers.filter((a) => a === 'locked')).toHaveLength(5);
    }
  }, 120_000);
});
