import { describe, expect, it } from 'vitest';
import { AccessControl } from '../../src/auth/access-control.js';
import { checkPassword, defaultAlgorithmFor, hashPassword, isWellFormedHash } from '../../src/auth/password.js';
import { compilePattern, expandTopicPattern } from '../../src/auth/patterns.js';

describe('RabbitMQ password hashes', () => {
  it("matches the worked example of RabbitMQ's passwords guide (MD5, salt CA D5 08 9B, password 'simon')", () => {
    expect(hashPassword('simon', 'rabbit_password_hashing_md5', Buffer.from('cad5089b', 'hex'))).toBe('ytUIm8s3AnKsXQjptplKFytfVxI=');
    expect(checkPassword('ytUIm8s3AnKsXQjptplKFytfVxI=', 'rabbit_password_hashing_md5', 'simon')).toBe(true);
    expect(checkPassword('ytUIm8s3AnKsXQjptplKFytfVxI=', 'rabbit_password_hashing_md5', 'simon2')).toBe(false);
  });

  it('sha256 by default, a fresh 4-byte salt each time; sha512 too; "" never matches', () => {
    const a = hashPassword('pw');
    const b = hashPassword('pw');
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64').length).toBe(4 + 32);
    expect(checkPassword(a, 'rabbit_password_hashing_sha256', 'pw')).toBe(true);
    const long = hashPassword('pw', 'rabbit_password_hashing_sha512');
    expect(Buffer.from(long, 'base64').length).toBe(4 + 64);
    expect(checkPassword(long, 'rabbit_password_hashing_sha512', 'pw')).toBe(true);
    expect(checkPassword(long, 'rabbit_password_hashing_sha256', 'pw')).toBe(false);
    expect(checkPassword('', 'rabbit_password_hashing_sha256', '')).toBe(false);
    expect(isWellFormedHash(a, 'rabbit_password_hashing_sha256')).toBe(true);
    expect(isWellFormedHash(a, 'rabbit_password_hashing_sha512')).toBe(false);
  });

  it('records without hashing_algorithm: MD5 for RabbitMQ 3.0–3.5 files, SHA-256 otherwise', () => {
    expect(defaultAlgorithmFor('3.5.7')).toBe('rabbit_password_hashing_md5');
    expect(defaultAlgorithmFor('3.0.0')).toBe('rabbit_password_hashing_md5');
    expect(defaultAlgorithmFor('3.6.0')).toBe('rabbit_password_hashing_sha256');
    expect(defaultAlgorithmFor('3.13.7')).toBe('rabbit_password_hashing_sha256');
    expect(defaultAlgorithmFor(undefined)).toBe('rabbit_password_hashing_sha256');
  });
});

describe('permission patterns', () => {
  it('"" means ^$; others match unanchored', () => {
    expect(compilePattern('').test('')).toBe(true);
    expect(compilePattern('').test('a')).toBe(false);
    expect(compilePattern('b').test('abc')).toBe(true);
    expect(() => compilePattern('(')).toThrow("invalid regular expression '('");
  });

  it('{username} and {vhost} expand regex-escaped', () => {
    expect(expandTopicPattern('^{username}\\.{vhost}$', 'a.b', 'v*')).toBe('^a\\.b\\.v\\*$');
  });

  it('every change bumps the generation (channel memos forget)', () => {
    const ac = new AccessControl();
    const g0 = ac.generation;
    ac.addUser('u', 'p');
    ac.setPermissions({ user: 'u', vhost: '/', configure: '', write: '.*', read: '' });
    ac.setTopicPermissions({ user: 'u', vhost: '/', exchange: 'amq.topic', write: '^a', read: '' });
    ac.clearPermissions('u', '/');
    expect(ac.generation).toBe(g0 + 4);
    expect(() => ac.setPermissions({ user: 'u', vhost: '/', configure: '[', write: '', read: '' })).toThrow();
    expect(ac.generation).toBe(g0 + 4); // a refused change changes nothing
    expect(ac.mayOpen('u', '/')).toBe(false);
  });
});
