/**
 * The README's testing examples are files in this directory: vitest runs
 * vitest-example.test.ts itself, this test runs node-test-example.mjs under
 * `node --test` (against dist/, as an installed package would be), and checks
 * that the README shows both files exactly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');

/** The fenced code block that follows `<!-- example: path -->` in the README. */
function exampleBlock(path: string): string | undefined {
  const marker = `<!-- example: ${path} -->`;
  const at = readme.indexOf(marker);
  if (at < 0) return undefined;
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at + marker.length));
  return match?.[1];
}

describe('README testing examples', () => {
  for (const path of ['test/readme/vitest-example.test.ts', 'test/readme/node-test-example.mjs']) {
    it(`shows ${path} verbatim`, () => {
      expect(exampleBlock(path)).toBe(readFileSync(`${root}${path}`, 'utf8'));
    });
  }

  it('the node:test example passes under node --test, importing the package by name', () => {
    expect(existsSync(`${root}dist/index.js`), 'run `npm run build` first').toBe(true);
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', 'test/readme/node-test-example.mjs'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^# pass 2$/m);
    expect(r.stdout).toMatch(/^# fail 0$/m);
    expect(r.status).toBe(0);
  });
});
