/**
 * Runs before every test file (vitest.config.ts setupFiles): a test that
 * makes no assertion fails. "Did not throw" is not an outcome; every test
 * must check bodies, counts, codes or texts.
 *
 * Concurrent tests (describe.concurrent) share the global expect's counters,
 * so they assert through their own context's `expect`, and the requirement
 * is set on that one.
 */
import { beforeEach, expect } from 'vitest';

beforeEach((context) => {
  if (context.task.concurrent) context.expect.hasAssertions();
  else expect.hasAssertions();
});
