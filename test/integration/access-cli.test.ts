/** --definitions / WARREN_DEFINITIONS at the command line, and hostile login input. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import amqp from 'amqplib';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { startBroker } from '../helpers/broker.js';
import { roundTrip } from '../helpers/amqp-checks.js';
import { startChildBroker, WARREN_BIN } from '../helpers/child-broker.js';
import { RawClient } from '../helpers/raw-client.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-cli-defs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [WARREN_BIN, '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dir, `data-${Math.random()}`), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

const hash = (pw: string): string => {
  const salt = Buffer.from('a1b2c3d4', 'hex');
  return Buffer.concat([salt, createHash('sha256').update(Buffer.concat([salt, Buffer.from(pw)])).digest()]).toString('base64');
};

describe('warren --definitions', () => {
  it('a bad file exits 2 naming the JSON path of the problem', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ users: [{ name: 'a', password_hash: hash('x'), hashing_algorithm: 'nope' }] }));
    const r = await run(['--definitions', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`warren: $.users[0].hashing_algorithm: unknown hashing algorithm "nope" for user 'a'`);
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ "users": [');
    const r2 = await run([], { WARREN_DEFINITIONS: notJson });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`is not JSON`);
  });

  it('bad TLS settings exit 2 naming the problem', async () => {
    const noTls = await run(['--no-plain']);
    expect(noTls.code).toBe(2);
    expect(noTls.stderr).toContain('warren: invalid --no-plain true (without a TLS certificate and key there would be no listener)');
    const keyless = await run(['--tls-cert', join(dir, 'c.pem')]);
    expect(keyless.code).toBe(2);
    expect(keyless.stderr).toContain('warren: invalid --tls-key missing (required with tlsCert)');
    const missing = await run(['--tls-cert', join(dir, 'missing.pem'), '--tls-key', join(dir, 'missing.key'), '--tls-port', '0']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`warren: cannot read TLS certificate ${join(dir, 'missing.pem')}`);
  });

  it('WARREN_DEFINITIONS imports users at start-up (no guest then)', async () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ rabbit_version: '3.13.7', users: [{ name: 'deploy', password_hash: hash('s3cret'), hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['administrator'] }], vhosts: [{ name: '/' }], permissions: [{ user: 'deploy', vhost: '/', configure: '.*', write: '.*', read: '.*' }] }));
    const child = await startChildBroker(['--data-dir', join(dir, 'data-good')], { WARREN_DEFINITIONS: good });
    try {
      const conn = await amqp.connect(`amqp://deploy:s3cret@127.0.0.1:${child.port}`);
      expect(await roundTrip(conn)).toMatch(/^ping-/);
      await conn.close();
      await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${child.port}`)).rejects.toThrow();
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  });
});

describe('hostile login input', () => {
  it('a 1 MB user name within frame_max is refused with 403 and logged cut short', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(...chunk.toString().split('\n').filter(Boolean)); cb(); } });
    const broker = await startBroker({ frameMax: 0, logger: pino({ level: 'warn' }, stream) });
    try {
      const raw = await RawClient.connect(broker.port);
      await raw.handshake({ user: 'x'.repeat(1024 * 1024), until: 'start-ok' });
      const close = await raw.expectConnectionClose(10_000);
      expect(close.replyCode).toBe(403);
      expect(close.replyText).toBe('ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.');
      const line = lines.find((l) => l.includes('authentication failed'));
      expect(line).toBeDefined();
      expect(line!.length).toBeLessThan(2000);
      expect(line).toContain('(1048576 characters)');
      const ok = await amqp.connect(broker.url());
      expect(await roundTrip(ok)).toMatch(/^ping-/);
      await ok.close();
    } finally {
      await broker.stop();
    }
  });

  it('a 1 MB user name is refused cleanly and disturbs no one', async () => {
    const broker = await startBroker();
    try {
      const other = await amqp.connect(broker.url());
      const raw = await RawClient.connect(broker.port);
      await raw.handshake({ user: 'x'.repeat(1024 * 1024), until: 'start-ok' });
      // Larger than frame_max before tuning: RabbitMQ's frame_too_large (the name is never parsed).
      const big = await raw.expectConnectionClose();
      expect(big.replyCode).toBe(501);
      expect(big.replyText).toMatch(/^FRAME_ERROR - type 1, all octets = <<>>: \{frame_too_large,\d+,131064\}$/);
      expect(await roundTrip(other)).toMatch(/^ping-/);
      // Within frame_max, a long unknown name is an ordinary refusal.
      const raw2 = await RawClient.connect(broker.port);
      await raw2.handshake({ user: 'y'.repeat(100_000), until: 'start-ok' });
      const close = await raw2.expectConnectionClose();
      expect(close.replyCode).toBe(403);
      expect(close.replyText).toBe('ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.');
      await other.close();
    } finally {
      await broker.stop();
    }
  });
});
