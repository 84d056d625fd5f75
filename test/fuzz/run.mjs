#!/usr/bin/env node
/**
 * `npm run fuzz -- [--cases N] [--seed S] [--only i,j] [--concurrency C]`
 *
 * Runs test/fuzz/fuzz.test.ts under vitest (which compiles the TypeScript)
 * with the run's parameters in WARREN_FUZZ_* variables. Defaults: 20000
 * cases, a random seed (printed, so a failing run can be replayed).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    cases: { type: 'string' },
    seed: { type: 'string' },
    only: { type: 'string' },
    concurrency: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write('usage: npm run fuzz -- [--cases N] [--seed S] [--only i,j,...] [--concurrency C]\n');
  process.exit(0);
}
const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31));
const env = {
  ...process.env,
  WARREN_FUZZ_SEED: seed,
  WARREN_FUZZ_CASES: values.cases ?? '20000',
  ...(values.only ? { WARREN_FUZZ_ONLY: values.only } : {}),
  ...(values.concurrency ? { WARREN_FUZZ_CONCURRENCY: values.concurrency } : {}),
};
process.stdout.write(`warren fuzz: seed ${seed}, ${values.only ? `cases ${values.only}` : `${env.WARREN_FUZZ_CASES} cases`}\n`);
const require = createRequire(import.meta.url);
const vitest = path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const child = spawn(process.execPath, [vitest, 'run', 'test/fuzz/fuzz.test.ts'], { stdio: 'inherit', env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
