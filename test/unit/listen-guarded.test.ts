import { createServer, connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenGuarded, listenTcpGuarded } from '../../src/observe/listen.js';

/** Collects what a listener's later failures are logged with. */
function recordingLog(): { entries: { obj: Record<string, unknown>; msg: string }[]; error(obj: object, msg: string): void } {
  const entries: { obj: Record<string, unknown>; msg: string }[] = [];
  return { entries, error: (obj, msg) => entries.push({ obj: obj as Record<string, unknown>, msg }) };
}

describe('listenGuarded', () => {
  it('a listener error after start-up (an accept failing with ENFILE) is logged, not thrown, and the server keeps accepting', async () => {
    const log = recordingLog();
    const server = createServer((s) => s.end('hi'));
    const address = await listenTcpGuarded(server, 0, '127.0.0.1', log, 'AMQP listener');
    const failure = Object.assign(new Error('accept ENFILE'), { code: 'ENFILE' });
    // Without the guard, emitting 'error' with no listener throws (and in the broker, ends the process).
    expect(() => server.emit('error', failure)).not.toThrow();
    expect(log.entries).toHaveLength(1);
    expect(log.entries[0]!.msg).toBe('AMQP listener failed; the broker carries on');
    expect(log.entries[0]!.obj).toMatchObject({ task: 'AMQP listener', err: failure });
    const reply = await new Promise<string>((resolve, reject) => {
      const c = connect((server.address() as AddressInfo).port, '127.0.0.1');
      let text = '';
      c.on('data', (d) => (text += d.toString()));
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
    expect(reply).toBe('hi');
    expect(address.port).toBeGreaterThan(0);
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a failure to start (a taken port) rejects with the error, as before', async () => {
    const first = createServer();
    const { port } = await listenTcpGuarded(first, 0, '127.0.0.1', null, 'first');
    const second = createServer();
    await expect(listenGuarded(second, { port, host: '127.0.0.1' }, null, 'second')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await new Promise<void>((r) => first.close(() => r()));
  });
});
