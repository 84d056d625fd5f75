/**
 * Heartbeats with a 1 s interval: the server sends heartbeat frames every half
 * interval when it has nothing else to send, an idle but heartbeating client stays connected
 * for several intervals, and a peer silent for two intervals is dropped.
 * The cases run concurrently (each has its own connection) to keep the file
 * around five seconds.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { Constants, MethodId } from '../../src/protocol/index.js';
import { roundTrip } from '../helpers/amqp-checks.js';
import { connect, eventually, sleep, startBroker } from '../helpers/broker.js';
import { RawClient } from '../helpers/raw-client.js';
import { WAIT_MS } from '../helpers/wait.js';

const HEARTBEAT_FRAME = Buffer.from([Constants.FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, Constants.FRAME_END]);
/** How late a due timeout may fire on a loaded machine before the test calls it a bug. */
const LATE_MS = 5000;
/** Tick of the probe that measures stalls of this process. */
const PROBE_MS = 20;

describe.concurrent('heartbeats', () => {
  let broker: Broker;
  beforeAll(async () => { broker = await startBroker(); });
  afterAll(async () => { await broker.stop(); });

  it('amqplib with heartbeat=1 stays connected while idle for over 4 intervals, and still works', async ({ expect }) => {
    const conn = await connect(broker, { heartbeat: 1 });
    const events: string[] = [];
    conn.on('error', (err: Error) => events.push(`error: ${err.message}`));
    conn.on('close', () => events.push('close'));
    const server = broker.connections().find((c) => c.heartbeat === 1 && c.clientProduct === 'amqplib');
    expect(server).toBeDefined();
    await sleep(4500);
    expect(events).toEqual([]);
    expect(await roundTrip(conn, 'still alive')).toBe('still alive');
    await conn.close();
  });

  it('a raw client that goes silent after the handshake is dropped within ~2 intervals, after receiving heartbeats', async ({ expect }) => {
    const c = await RawClient.open(broker.port, { heartbeat: 1 });
    const silentSince = Date.now();
    await c.waitClosed(WAIT_MS);
    const after = c.closedAt - silentSince;
    // Two missed intervals (2 s), detected on a half-interval tick: 2–2.5 s after the last byte
    // (measured here from open-ok, a little later); when due, not much later (generous: a
    // loaded machine runs timers late).
    expect(after).toBeGreaterThanOrEqual(1500);
    expect(after).toBeLessThan(2500 + LATE_MS);
    // It was sent heartbeats while idle, and the drop is a plain socket close (as RabbitMQ), no connection.close.
    expect(c.heartbeats).toBeGreaterThanOrEqual(1);
    expect(c.frames.every((f) => f.channel === 0)).toBe(true);
    expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionClose);
    await eventually(() => !broker.connections().some((s) => s.peer.endsWith(`:${c.socket.localPort}`)), 10_000, 'server forgot the dropped connection');
  });

  it('a raw client that only sends heartbeats stays connected, receives a heartbeat every half interval, then works', async ({ expect }) => {
    const c = await RawClient.open(broker.port, { heartbeat: 1 });
    const timer = setInterval(() => c.send(HEARTBEAT_FRAME), 400);
    try {
      await sleep(3600);
      expect(c.closed).toBe(false);
      // Nothing else was sent to it, so every ~0.5 s the server sent a heartbeat (~7 in 3.6 s).
      expect(c.heartbeats).toBeGreaterThanOrEqual(4);
      expect(c.heartbeats).toBeLessThanOrEqual(9);
      await c.openChannel(1);
      await c.close();
    } finally {
      clearInterval(timer);
      c.destroy();
    }
  });

  it('heartbeat spacing on the wire: an idle client with heartbeat 1 s hears from the server every half interval, never silent for a whole one', async ({ expect }) => {
    // As RabbitMQ (its heartbeat sender checks every half interval). Clients such as
    // amqp-client.js drop a connection that was silent for one interval.
    const c = await RawClient.open(broker.port, { heartbeat: 1 });
    const openedAt = c.frames.find((f) => f.method?.id === MethodId.ConnectionOpenOk)!.at!;
    const timer = setInterval(() => c.send(HEARTBEAT_FRAME), 300);
    // The broker runs in this process: a stall of the process (a loaded machine) delays its
    // heartbeat timer and this probe's ticks alike. The longest gap is judged net of the
    // longest stall the probe saw in the same window.
    const ticks: number[] = [performance.now()];
    const probe = setInterval(() => ticks.push(performance.now()), PROBE_MS);
    try {
      const beats: number[] = [];
      for (let i = 0; i < 8; i++) beats.push((await c.waitFor((f) => f.type === Constants.FRAME_HEARTBEAT, WAIT_MS, `heartbeat ${i + 1}`)).at!);
      const stall = Math.max(0, ...ticks.slice(1).map((t, i) => t - ticks[i]! - PROBE_MS));
      const gaps = [beats[0]! - openedAt, ...beats.slice(1).map((t, i) => t - beats[i]!)];
      const sorted = [...gaps].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)]!;
      const detail = `gaps (ms): ${gaps.map((g) => g.toFixed(0)).join(', ')}; longest stall of this process: ${stall.toFixed(0)} ms`;
      // Half an interval (500 ms) apart; the bounds leave room for a loaded machine but
      // not for the old behaviour (a heartbeat every 1.5 s of silence).
      expect(median, detail).toBeGreaterThanOrEqual(350);
      expect(median, detail).toBeLessThanOrEqual(750);
      expect(sorted[sorted.length - 1]! - stall, detail).toBeLessThan(1250 + PROBE_MS);
      expect(c.closed).toBe(false);
    } finally {
      clearInterval(timer);
      clearInterval(probe);
      c.destroy();
    }
  });

  it('heartbeat 0 in tune-ok disables heartbeats: a silent client is kept and sent none', async ({ expect }) => {
    const c = await RawClient.open(broker.port, { heartbeat: 0 });
    await sleep(3000);
    expect(c.closed).toBe(false);
    expect(c.heartbeats).toBe(0);
    await c.openChannel(1);
    await c.close();
  });

  it('the server offers its configured heartbeat in tune', async ({ expect }) => {
    const other = await startBroker({ heartbeat: 1 });
    try {
      const c = await RawClient.connect(other.port);
      const { tune } = await c.handshake({ until: 'tune-ok', heartbeat: 1 });
      expect(tune?.heartbeat).toBe(1);
      c.destroy();
      // amqplib with no preference takes the server's value.
      const conn = await connect(other);
      await eventually(() => other.connections().some((s) => s.state === 'running' && s.heartbeat === 1), 10_000, 'heartbeat 1 negotiated');
      await conn.close();
    } finally {
      await other.stop();
    }
  });
});
