/**
 * amqps: amqplib, pika and openssl s_client over TLS 1.2/1.3; mutual TLS with
 * SASL EXTERNAL (user = certificate CN); refusals (wrong CA, no client
 * certificate, plaintext on the TLS port) logged at warn and harmless; and
 * certificates re-read without dropping connections (in process, and SIGHUP
 * to the CLI).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { eventually, startBroker, type AmqpConnection } from '../helpers/broker.js';
import { WAIT_MS } from '../helpers/wait.js';
import { roundTrip } from '../helpers/amqp-checks.js';
import { startChildBroker } from '../helpers/child-broker.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { makeCa, makeCert, type KeyPair } from '../helpers/tls-certs.js';
import { requireTool } from '../interop/requirements.js';

let dir: string;
let ca: KeyPair;
let otherCa: KeyPair;
let server: KeyPair;
let serverFromOther: KeyPair;
let client: KeyPair;
let strangerClient: KeyPair;
let caPem: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'warren-tls-'));
  ca = makeCa(dir, 'ca');
  otherCa = makeCa(dir, 'other-ca');
  server = makeCert(dir, ca, 'server', 'localhost', 'server');
  serverFromOther = makeCert(dir, otherCa, 'server-other', 'localhost', 'server');
  client = makeCert(dir, ca, 'client', 'cert-user', 'client');
  strangerClient = makeCert(dir, otherCa, 'stranger', 'cert-user', 'client');
  caPem = readFileSync(ca.cert);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const brokers: Broker[] = [];
const conns: AmqpConnection[] = [];
afterEach(async () => {
  await Promise.allSettled(conns.splice(0).map((c) => c.close()));
  await Promise.allSettled(brokers.splice(0).map((b) => b.stop()));
});

/** Runs a program asynchronously (the broker under test lives in this process: a sync spawn would freeze it). */
function run(command: string, args: string[], input = '', timeout = 30_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

async function tlsBroker(extra: Parameters<typeof startBroker>[0] = {}): Promise<Broker> {
  const b = await startBroker({ tlsPort: 0, tlsCert: server.cert, tlsKey: server.key, tlsCa: ca.cert, ...extra });
  brokers.push(b);
  return b;
}

async function amqps(b: Broker, options: Record<string, unknown> = {}, auth = 'guest:guest@'): Promise<AmqpConnection> {
  const c = await amqp.connect(`amqps://${auth}localhost:${b.tlsPort}`, { ca: [caPem], ...options });
  c.on('error', () => {});
  conns.push(c);
  return c;
}

describe('amqps', () => {
  it('amqplib connects with the CA and round-trips a message; the plain port still works', async () => {
    const b = await tlsBroker();
    expect(b.tlsPort).toBeGreaterThan(0);
    expect(await roundTrip(await amqps(b))).toMatch(/^ping-/);
    const plain = await amqp.connect(b.url());
    conns.push(plain);
    expect(await roundTrip(plain)).toMatch(/^ping-/);
  });

  it('a client trusting another CA refuses the server certificate', async () => {
    const b = await tlsBroker();
    await expect(amqp.connect(`amqps://guest:guest@localhost:${b.tlsPort}`, { ca: [readFileSync(otherCa.cert)] })).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('--no-plain serves amqps only', async () => {
    const b = await tlsBroker({ noPlain: true });
    expect(b.port).toBe(0);
    expect(await roundTrip(await amqps(b))).toMatch(/^ping-/);
  });

  it('openssl s_client negotiates TLS 1.3 and 1.2 (verified), never 1.1', async () => {
    // s_client keeps reading (-ign_eof) until the broker drops the unfinished handshake.
    // 2 s: the TLS and AMQP handshake budget must cover a loaded machine, and is also how long each run lasts.
    const b = await tlsBroker({ handshakeTimeout: 2000 });
    const sClient = async (args: string[]): Promise<{ status: number | null; out: string }> => {
      const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${b.tlsPort}`, '-servername', 'localhost', '-CAfile', ca.cert, '-verify_return_error', '-ign_eof', ...args], 'AMQP\u0000\u0000\u0009\u0001');
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const v13 = await sClient(['-tls1_3']);
    expect(v13.out).toContain('Verify return code: 0 (ok)');
    expect(v13.out).toMatch(/Protocol\s*:\s*TLSv1\.3|New, TLSv1\.3/);
    expect(v13.out).toContain('PLAIN AMQPLAIN'); // connection.start's mechanisms: AMQP spoken over TLS
    const v12 = await sClient(['-tls1_2']);
    expect(v12.out).toContain('Verify return code: 0 (ok)');
    expect(v12.out).toContain('PLAIN AMQPLAIN');
    expect(v12.out).toMatch(/Protocol\s*:\s*TLSv1\.2|New, TLSv1\.2/);
    const v11 = await sClient(['-tls1_1']);
    expect(v11.status).not.toBe(0);
    expect(v11.out).toContain('alert protocol version');
    expect(v11.out).toContain('Cipher    : 0000'); // nothing negotiated
  });

  const pika = requireTool('python3', 'import pika', 'python3-pika');
  it.runIf(pika.available)('pika connects with ssl_options and publishes/gets a message', async () => {
    const b = await tlsBroker();
    const script = `
import pika, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
params = pika.ConnectionParameters(host='localhost', port=int(sys.argv[1]), ssl_options=pika.SSLOptions(ctx, 'localhost'), credentials=pika.PlainCredentials('guest', 'guest'))
conn = pika.BlockingConnection(params)
ch = conn.channel()
q = ch.queue_declare('', exclusive=True).method.queue
ch.basic_publish('', q, b'over tls from pika')
for _ in range(100):
    m, p, body = ch.basic_get(q, auto_ack=True)
    if body is not None:
        print(body.decode())
        break
    conn.sleep(0.05)
conn.close()
`;
    const r = await run(pika.command, ['-c', script, String(b.tlsPort), ca.cert]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('over tls from pika');
  });

  it('plaintext AMQP on the TLS port is logged at warn and closed; other clients are not disturbed', async () => {
    const { logger, lines } = capturingLogger('warn');
    const b = await tlsBroker({ logger });
    const ok = await amqps(b);
    const sock = netConnect(b.tlsPort, '127.0.0.1');
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    sock.on('error', () => {});
    sock.write(Buffer.from('AMQP\u0000\u0000\u0009\u0001', 'latin1'));
    await closed;
    await eventually(() => lines.some((l) => l.msg === 'TLS handshake failed' && l.level === 40), WAIT_MS, 'a warn line');
    expect(b.connectionCount).toBe(1);
    expect(await roundTrip(ok)).toMatch(/^ping-/);
  });
});

describe('mutual TLS', () => {
  it('SASL EXTERNAL logs in as the certificate CN (a user without a password)', async () => {
    const b = await tlsBroker({ tlsVerifyPeer: true, tlsFailIfNoPeerCert: true });
    b.addUser('cert-user', null);
    b.setPermissions('cert-user', '/', { configure: '.*', write: '.*', read: '.*' });
    const c = await amqps(b, { cert: readFileSync(client.cert), key: readFileSync(client.key), credentials: amqp.credentials.external() }, '');
    expect(await roundTrip(c)).toMatch(/^ping-/);
    const [info] = b.connectionSnapshots();
    expect(info!.user).toBe('cert-user');
    expect(info!.authMechanism).toBe('EXTERNAL');
    expect(info!.tls).toMatchObject({ protocol: 'tlsv1.3', peerCertSubject: 'CN=cert-user', peerCertIssuer: 'CN=ca' });
    expect(b.listeners().map((l) => l.protocol)).toEqual(['amqp', 'amqp/ssl']);
  });

  it('a client without a certificate, or with one from another CA, is refused in the handshake (logged at warn)', async () => {
    const { logger, lines } = capturingLogger('warn');
    const b = await tlsBroker({ tlsVerifyPeer: true, tlsFailIfNoPeerCert: true, logger });
    await expect(amqps(b)).rejects.toThrow();
    await expect(amqps(b, { cert: readFileSync(strangerClient.cert), key: readFileSync(strangerClient.key), credentials: amqp.credentials.external() }, '')).rejects.toThrow();
    await eventually(() => lines.filter((l) => l.msg === 'TLS handshake failed').length >= 2, WAIT_MS, 'two warn lines');
    expect(b.connectionCount).toBe(0);
  });

  it('verify-peer without fail-if-no-peer-cert: no certificate is fine (PLAIN), a foreign one is refused', async () => {
    const { logger, lines } = capturingLogger('warn');
    const b = await tlsBroker({ tlsVerifyPeer: true, logger });
    expect(await roundTrip(await amqps(b))).toMatch(/^ping-/);
    await expect(amqps(b, { cert: readFileSync(strangerClient.cert), key: readFileSync(strangerClient.key) })).rejects.toThrow();
    await eventually(() => lines.some((l) => l.msg === 'TLS client certificate refused'), WAIT_MS, 'a warn line');
  });

  it('EXTERNAL for a CN that is no user is refused with 403', async () => {
    const b = await tlsBroker({ tlsVerifyPeer: true });
    await expect(amqps(b, { cert: readFileSync(client.cert), key: readFileSync(client.key), credentials: amqp.credentials.external() }, '')).rejects.toThrow(/ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL/);
  });
});

describe('certificate reload', () => {
  /** The server's certificate and key copied into files of their own, and swapToOther() to overwrite them with serverFromOther's. */
  function liveCertificate(): { live: string; cert: string; key: string; swapToOther(): void } {
    const live = mkdtempSync(join(dir, 'live-'));
    const cert = join(live, 'cert.pem');
    const key = join(live, 'key.pem');
    copyFileSync(server.cert, cert);
    copyFileSync(server.key, key);
    const swapToOther = (): void => {
      copyFileSync(serverFromOther.cert, cert);
      copyFileSync(serverFromOther.key, key);
    };
    return { live, cert, key, swapToOther };
  }

  it('reloadTls() serves the new certificate to new clients; open connections stay up', async () => {
    const { cert, key, swapToOther } = liveCertificate();
    const b = await tlsBroker({ tlsCert: cert, tlsKey: key });
    const before = await amqps(b);
    swapToOther();
    b.reloadTls();
    const after = await amqps(b, { ca: [readFileSync(otherCa.cert)] });
    expect(await roundTrip(after)).toMatch(/^ping-/);
    await expect(amqps(b)).rejects.toThrow(); // the old CA no longer matches
    expect(await roundTrip(before)).toMatch(/^ping-/);
  });

  it('SIGHUP makes the CLI re-read its certificate files', async () => {
    const { live, cert, key, swapToOther } = liveCertificate();
    const child = await startChildBroker(['--data-dir', join(live, 'data'), '--tls-port', '0', '--tls-cert', cert, '--tls-key', key]);
    try {
      const tlsPort = child.lines.find((l) => l.msg === 'Warren listening')!.tlsPort as number;
      const url = `amqps://guest:guest@localhost:${tlsPort}`;
      const before = await amqp.connect(url, { ca: [caPem] });
      before.on('error', () => {});
      swapToOther();
      child.proc.kill('SIGHUP');
      await eventually(() => child.lines.some((l) => l.msg === 'TLS certificates reloaded'), 10_000, 'the reload log line');
      const after = await amqp.connect(url, { ca: [readFileSync(otherCa.cert)] });
      expect(await roundTrip(after)).toMatch(/^ping-/);
      expect(await roundTrip(before)).toMatch(/^ping-/);
      await after.close();
      await before.close();
    } finally {
      child.proc.kill('SIGTERM');
      await child.exited;
    }
  });
});
