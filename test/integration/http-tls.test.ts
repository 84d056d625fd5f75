import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { startBroker } from '../helpers/broker.js';
import { api, requestText } from '../helpers/http.js';
import { makeCa, makeCert, type KeyPair } from '../helpers/tls-certs.js';

/** GET over HTTPS, trusting `ca`. */
function httpsGet(port: number, path: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return requestText((onResponse) => request({ host: '127.0.0.1', port, path, ca, servername: 'localhost', auth: 'guest:guest' }, onResponse));
}

/** The management API over HTTPS with the AMQP listener's certificate (--management-tls-port). */
describe('management HTTP API over TLS', () => {
  let dir: string;
  let ca: KeyPair;
  let broker: Broker;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-mgmt-tls-'));
    ca = makeCa(dir, 'ca');
    const server = makeCert(dir, ca, 'server', 'localhost', 'server');
    broker = await startBroker({ tlsCert: server.cert, tlsKey: server.key, tlsPort: 0, management: { port: 0, tlsPort: 0 } });
  });
  afterAll(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the same API on both ports, and lists the https listener', async () => {
    expect(broker.managementHttpsPort).toBeGreaterThan(0);
    const r = await httpsGet(broker.managementHttpsPort, '/api/overview', readFileSync(ca.cert));
    expect(r.status).toBe(200);
    const overview = JSON.parse(r.body) as { product_name: string; listeners: { protocol: string; port: number }[] };
    expect(overview.product_name).toBe('Warren');
    expect(overview.listeners).toEqual(expect.arrayContaining([expect.objectContaining({ protocol: 'https', port: broker.managementHttpsPort })]));
    expect((await api(broker, '/api/overview')).status).toBe(200);
    // The certificate is checked by the client: a client trusting another CA refuses it.
    const other = makeCa(dir, 'other');
    await expect(httpsGet(broker.managementHttpsPort, '/api/overview', readFileSync(other.cert))).rejects.toThrow();
  });

  it('a management TLS port without a certificate is refused at start', async () => {
    await expect(startBroker({ management: { port: 0, tlsPort: 0 } })).rejects.toThrow(/tlsCert missing/);
  });
});
