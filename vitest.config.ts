import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The README's examples import the package by name; in this repository that is the source.
    alias: [{ find: /^warren$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // expect.hasAssertions() before every test: one that asserts nothing fails.
    setupFiles: ['test/setup.ts'],
    // Generous: many tests start child processes (the CLI, etcd, chromium, clients in other
    // languages), which a loaded CI machine can make several times slower. A timeout only
    // decides how long a hang takes to be reported; every wait inside a test has its own budget.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll's default (1 s) is a sleep in disguise on a loaded machine; a poll returns as soon as it holds.
    expect: { poll: { timeout: 10_000 } },
    // Integration tests open real sockets; files run in parallel processes.
    pool: 'forks',
  },
});
