import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('generated codec', () => {
  it('is up to date with spec/amqp0-9-1.spec (run `npm run generate` if this fails)', async () => {
    const { generate } = (await import(new URL('../../spec/generate.mjs', import.meta.url).href)) as { generate(): Map<string, string> };
    const files = generate();
    expect(files.size).toBeGreaterThan(0);
    for (const [path, content] of files) {
      expect(readFileSync(path, 'utf8'), `${path} is stale`).toBe(content);
    }
  });
});
