import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

/** True when something accepts TCP connections on the port (127.0.0.1). */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range; Linux's default 32768). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A port for a process that is started later and may be restarted on it (etcd,
 * cluster nodes), free on 127.0.0.1 when checked. Picked at random below the
 * kernel's ephemeral range, never from it: every outgoing connection and every
 * port-0 listener of the test files running in parallel take their ports from
 * that range, so a port from it (what listen(0) hands out) can be some other
 * test's connection by the time the process binds it.
 */
export async function freePort(): Promise<number> {
  const max = ephemeralLow() - 1;
  const min = Math.min(10_000, max - 1000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${min} and ${max}`);
}
