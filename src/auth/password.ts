/**
 * RabbitMQ's password storage (rabbit_password + rabbit_password_hashing_*):
 * base64( salt(4 random bytes) ‖ H(salt ‖ UTF-8 password) ), with H one of
 * SHA-256 (the default), SHA-512 or MD5. Hashes exported by RabbitMQ import
 * unchanged, and ours import into RabbitMQ.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const HASHING_ALGORITHMS = {
  rabbit_password_hashing_sha256: 'sha256',
  rabbit_password_hashing_sha512: 'sha512',
  rabbit_password_hashing_md5: 'md5',
} as const;

export type HashingAlgorithm = keyof typeof HASHING_ALGORITHMS;
export const DEFAULT_HASHING_ALGORITHM: HashingAlgorithm = 'rabbit_password_hashing_sha256';

const SALT_BYTES = 4;

export function isHashingAlgorithm(name: unknown): name is HashingAlgorithm {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(HASHING_ALGORITHMS, name);
}

function digest(algorithm: HashingAlgorithm, salt: Buffer, password: string): Buffer {
  return createHash(HASHING_ALGORITHMS[algorithm]).update(salt).update(password, 'utf8').digest();
}

/** A salted hash of `password` in RabbitMQ's format (base64 text). */
export function hashPassword(password: string, algorithm: HashingAlgorithm = DEFAULT_HASHING_ALGORITHM, salt: Buffer = randomBytes(SALT_BYTES)): string {
  return Buffer.concat([salt, digest(algorithm, salt, password)]).toString('base64');
}

/** True when `password` matches the stored hash. An empty hash (a user without a password) matches nothing. */
export function checkPassword(passwordHash: string, algorithm: HashingAlgorithm, password: string): boolean {
  if (passwordHash === '') return false;
  const stored = Buffer.from(passwordHash, 'base64');
  if (stored.length <= SALT_BYTES) return false;
  const computed = digest(algorithm, stored.subarray(0, SALT_BYTES), password);
  const expected = stored.subarray(SALT_BYTES);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/**
 * A hash is well-formed when it is empty (no password) or base64 of a salt
 * followed by a digest of the algorithm's length.
 */
export function isWellFormedHash(passwordHash: string, algorithm: HashingAlgorithm): boolean {
  if (passwordHash === '') return true;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(passwordHash)) return false;
  const length = Buffer.from(passwordHash, 'base64').length;
  return length === SALT_BYTES + createHash(HASHING_ALGORITHMS[algorithm]).digest().length;
}

/**
 * The algorithm of a user record that names none, as RabbitMQ's import
 * decides it: files from RabbitMQ 3.0–3.5 hashed with MD5, later ones SHA-256.
 */
export function defaultAlgorithmFor(rabbitVersion: string | undefined): HashingAlgorithm {
  const m = /^3\.(\d+)(\.|$)/.exec(rabbitVersion ?? '');
  return m && Number(m[1]) <= 5 ? 'rabbit_password_hashing_md5' : DEFAULT_HASHING_ALGORITHM;
}
