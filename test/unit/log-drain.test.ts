/**
 * whenLogsWritten: an exit from its callback comes after every line logged
 * before it, in order. pino's own flush(cb) called back at once while a line
 * was still being written; the exit then wrote the lines queued behind it
 * first (the CLI's "Warren stopped" before "shutdown requested").
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('../helpers/log-drain-child.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist/observe/log-drain.js', import.meta.url));

function runChild(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD], { env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('whenLogsWritten', () => {
  it('calls back once every line is written: a process exiting then has written them all, in order', async () => {
    if (!existsSync(DIST)) throw new Error('dist/ is missing: run `npm run build`');
    for (let i = 0; i < 3; i++) {
      const r = await runChild();
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['first', 'second', 'third']);
    }
  });
});
