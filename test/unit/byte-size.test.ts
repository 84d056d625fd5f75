/** --disk-free-limit / diskFreeLimit: bytes or RabbitMQ-style sizes, and clear errors for anything else. */
import { describe, expect, it } from 'vitest';
import { parseByteSize } from '../../src/byte-size.js';
import { parseCli, UsageError } from '../../src/cli.js';
import { resolveOptions } from '../../src/config.js';

describe('sizes', () => {
  it('reads bytes and RabbitMQ units (kB/MB/GB decimal, KiB/MiB/GiB and k/M/G binary)', () => {
    expect(parseByteSize('52428800')).toBe(52_428_800);
    expect(parseByteSize(1234)).toBe(1234);
    expect(parseByteSize('50MB')).toBe(50_000_000);
    expect(parseByteSize('50mb')).toBe(50_000_000);
    expect(parseByteSize('1GB')).toBe(1_000_000_000);
    expect(parseByteSize('2kB')).toBe(2000);
    expect(parseByteSize('512MiB')).toBe(512 * 1024 * 1024);
    expect(parseByteSize('1G')).toBe(1024 ** 3);
    expect(parseByteSize('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize('0')).toBe(0);
    for (const bad of ['', 'MB', '-5', '5 parsecs', '1e9', 'fifty']) expect(parseByteSize(bad)).toBeNull();
    expect(parseByteSize(-1)).toBeNull();
  });

  it('diskFreeLimit defaults to 50 MB (RabbitMQ\'s default) and takes bytes or sizes; a bad one is a RangeError naming it', () => {
    expect(resolveOptions({}).diskFreeLimit).toBe(50_000_000);
    expect(resolveOptions({ diskFreeLimit: '1GB' }).diskFreeLimit).toBe(1_000_000_000);
    expect(resolveOptions({ diskFreeLimit: 4096 }).diskFreeLimit).toBe(4096);
    expect(() => resolveOptions({ diskFreeLimit: 'lots' })).toThrow(/diskFreeLimit lots/);
  });

  it('--disk-free-limit and WARREN_DISK_FREE_LIMIT; a bad value is a usage error naming the flag', () => {
    expect(parseCli(['--disk-free-limit', '2GB'], {})).toMatchObject({ diskFreeLimit: '2GB' });
    expect(parseCli([], { WARREN_DISK_FREE_LIMIT: '100000000' })).toMatchObject({ diskFreeLimit: '100000000' });
    expect(resolveOptions(parseCli(['--disk-free-limit', '2GB'], {})!).diskFreeLimit).toBe(2_000_000_000);
    expect(() => parseCli(['--disk-free-limit', 'huge'], {})).toThrow(UsageError);
    expect(() => parseCli(['--disk-free-limit', 'huge'], {})).toThrow(/--disk-free-limit/);
  });
});
