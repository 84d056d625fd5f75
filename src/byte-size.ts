/**
 * Sizes as RabbitMQ's configuration writes them (disk_free_limit.absolute):
 * a number of bytes, or a number with a unit. kB/KB, MB, GB are powers of
 * 1000; k/K/KiB, M/MiB, G/GiB are powers of 1024.
 */
const UNITS: Record<string, number> = {
  '': 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Bytes for `50MB`, `1GiB`, `52428800` (or a number); null when it is not a size. */
export function parseByteSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return null;
  // RabbitMQ accepts kB and KB alike, and so on: compare without case, except
  // that the single letters and the *iB forms are binary.
  const factor = UNITS[m[2]!.toLowerCase()];
  if (factor === undefined) return null;
  return Math.floor(Number(m[1]) * factor);
}
