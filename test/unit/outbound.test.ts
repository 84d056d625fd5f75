/**
 * A connection's write queue (src/server/outbound.ts) on a recording socket:
 * everything encoded in a tick goes out in one corked batch, and once the
 * connection is gone nothing is written, even when a flush is asked for.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Outbound, type OutboundHost } from '../../src/server/outbound.js';
import type { ReadGate } from '../../src/server/read-gate.js';
import { createLogger } from '../../src/observe/logger.js';

/** A socket that records writes and never backs up. */
function recordingSocket(): { socket: Socket; writes: Buffer[]; corks: number } {
  const rec = { writes: [] as Buffer[], corks: 0, socket: null as unknown as Socket };
  rec.socket = {
    writableLength: 0,
    on: () => rec.socket,
    cork: () => void rec.corks++,
    uncork: () => undefined,
    write: (b: Buffer) => rec.writes.push(Buffer.from(b)) > 0,
  } as unknown as Socket;
  return rec;
}

const host = (): OutboundHost => ({ id: 1, peer: 'test:1', logger: createLogger({ level: 'silent' }), isOpen: true, outputSent: () => undefined, resumeDeliveries: () => undefined });
const gate = { backlogged: false, setBacklogged: () => undefined } as unknown as ReadGate;

describe('Outbound', () => {
  it('writes what was encoded since the last flush, in order, counting one send per flush', () => {
    const rec = recordingSocket();
    const out = new Outbound(rec.socket, gate, host());
    out.out.u8(1);
    out.out.u8(2);
    out.flush();
    out.out.u8(3);
    out.flush();
    out.flush(); // nothing new: no write
    expect(Buffer.concat(rec.writes)).toEqual(Buffer.from([1, 2, 3]));
    expect(out.sendCount).toBe(2);
  });

  it('after close() nothing is written, whatever is encoded or flushed', () => {
    const rec = recordingSocket();
    const out = new Outbound(rec.socket, gate, host());
    out.out.u8(1);
    out.close();
    out.requestFlush();
    out.out.u8(2);
    out.flush();
    expect(rec.writes).toEqual([]);
    expect(out.sendCount).toBe(0);
    expect(out.writable).toBe(false);
  });
});
