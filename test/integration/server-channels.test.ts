/**
 * Channel lifecycle on the wire (raw client): open/open-ok, close/close-ok in
 * both directions, channel.flow, and the channel-number errors, which are
 * connection errors (504) as in RabbitMQ.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { Constants, MethodId } from '../../src/protocol/index.js';
import { brokerBarrier, eventually, startBroker } from '../helpers/broker.js';
import { RawClient, bodyFrames, headerFrame, methodFrame } from '../helpers/raw-client.js';
import { WAIT_MS } from '../helpers/wait.js';

describe('channels', () => {
  let broker: Broker;
  const clients: RawClient[] = [];
  beforeAll(async () => { broker = await startBroker(); });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await broker.stop();
  });

  async function open(): Promise<RawClient> {
    const c = await RawClient.open(broker.port);
    clients.push(c);
    return c;
  }

  it('opens several channels, closes them (client-initiated) and reuses a number', async () => {
    const c = await open();
    for (const n of [1, 2, 2047]) await c.openChannel(n);
    c.sendMethod(2, { id: MethodId.ChannelClose, args: { replyCode: 200, replyText: 'done', classId: 0, methodId: 0 } });
    expect(await c.waitForMethod(MethodId.ChannelCloseOk, 2)).toEqual({});
    // Channel 2 is free again; 1 and 2047 are still open and usable.
    await c.openChannel(2);
    for (const n of [1, 2, 2047]) {
      c.sendMethod(n, { id: MethodId.BasicQos, args: { prefetchCount: 5 } });
      await c.waitForMethod(MethodId.BasicQosOk, n);
    }
    await c.close();
    expect(c.methods.filter((m) => m.id === MethodId.ChannelOpenOk)).toHaveLength(4);
  });

  it('a channel error closes only that channel (server channel.close), and the number is free after close-ok', async () => {
    const c = await open();
    await c.openChannel(1);
    await c.openChannel(2);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'no-such-queue', passive: true } });
    const close = await c.waitForMethod(MethodId.ChannelClose, 1);
    expect(close).toEqual({ replyCode: 404, replyText: "NOT_FOUND - no queue 'no-such-queue' in vhost '/'", classId: 50, methodId: 10 });

    // Until close-ok, everything else on channel 1 is ignored: methods, and whole publishes.
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'ignored', exclusive: true } });
    c.send(Buffer.concat([methodFrame(1, { id: MethodId.BasicPublish, args: { routingKey: 'x' } }), headerFrame(1, 3), bodyFrames(1, Buffer.from('abc'), 131072)]));
    c.send(headerFrame(1, 3)); // even a stray header frame
    // ...while channel 2 keeps working.
    c.sendMethod(2, { id: MethodId.QueueDeclare, args: { queue: 'ch2-queue', exclusive: true } });
    // Frames are handled in order: any reply on channel 1 would have come before this one.
    expect((await c.waitForMethod(MethodId.QueueDeclareOk, 2)).queue).toBe('ch2-queue');
    expect(c.frames.filter((f) => f.channel === 1).map((f) => f.method?.id)).toEqual([MethodId.ChannelOpenOk, MethodId.ChannelClose]);

    c.sendMethod(1, { id: MethodId.ChannelCloseOk, args: {} });
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'ignored', passive: true } });
    // The declare sent while closing never happened.
    expect((await c.waitForMethod(MethodId.ChannelClose, 1)).replyCode).toBe(404);
    c.sendMethod(1, { id: MethodId.ChannelCloseOk, args: {} });
    await c.close();
  });

  it('crossing channel closes (as RabbitMQ): the client\'s close gets close-ok, its close-ok ends ours, the number is free, other channels untouched', async () => {
    const c = await open();
    await c.openChannel(1);
    await c.openChannel(2);
    // One write: a publish to a missing exchange (the server answers channel.close 404) and the
    // client's own channel.close, sent before it could see the server's.
    c.send(Buffer.concat([
      methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: 'no-such-exchange', routingKey: 'k' } }),
      headerFrame(1, 3),
      bodyFrames(1, Buffer.from('abc'), 131072),
      methodFrame(1, { id: MethodId.ChannelClose, args: { replyCode: 200, replyText: 'client closing', classId: 0, methodId: 0 } }),
    ]));
    expect(await c.waitForMethod(MethodId.ChannelClose, 1)).toEqual({ replyCode: 404, replyText: "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'", classId: 60, methodId: 40 });
    expect(await c.waitForMethod(MethodId.ChannelCloseOk, 1)).toEqual({});
    // The client answers the server's close, as every client does.
    c.sendMethod(1, { id: MethodId.ChannelCloseOk, args: {} });
    // Channel 2 still works, channel 1 opens again, and the connection was never closed.
    c.sendMethod(2, { id: MethodId.BasicQos, args: { prefetchCount: 3 } });
    await c.waitForMethod(MethodId.BasicQosOk, 2);
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: 'after-crossing', exclusive: true } });
    expect((await c.waitForMethod(MethodId.QueueDeclareOk, 1)).queue).toBe('after-crossing');
    expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionClose);
    await c.close();
  });

  it('channel.flow active=true is answered with flow-ok active=true', async () => {
    const c = await open();
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.ChannelFlow, args: { active: true } });
    expect(await c.waitForMethod(MethodId.ChannelFlowOk, 1)).toEqual({ active: true });
    await c.close();
  });

  it('channel.flow active=false is 540 NOT_IMPLEMENTED (a connection error)', async () => {
    const c = await open();
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.ChannelFlow, args: { active: false } });
    expect(await c.expectConnectionClose()).toEqual({ replyCode: 540, replyText: 'NOT_IMPLEMENTED - active=false', classId: 20, methodId: 20 });
  });

  it('channel.open on channel 0 is 504', async () => {
    const c = await open();
    c.sendMethod(0, { id: MethodId.ChannelOpen, args: {} });
    expect(await c.expectConnectionClose()).toEqual({
      replyCode: 504,
      replyText: 'CHANNEL_ERROR - unexpected method in connection state running',
      classId: 20,
      methodId: 10,
    });
  });

  it('a channel number above channel_max is 504', async () => {
    const c = await open();
    c.sendMethod(2048, { id: MethodId.ChannelOpen, args: {} });
    const close = await c.expectConnectionClose();
    expect(close.replyCode).toBe(504);
    expect(close.replyText).toBe('CHANNEL_ERROR - channel number 2048 exceeds the negotiated channel_max 2047');
    expect([close.classId, close.methodId]).toEqual([20, 10]);
  });

  it('a closed channel frees its number for reuse', async () => {
    const c = await RawClient.open(broker.port, { channelMax: 1 });
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.ChannelClose, args: { replyCode: 200, replyText: '', classId: 0, methodId: 0 } });
    expect(await c.waitForMethod(MethodId.ChannelCloseOk, 1)).toEqual({});
    await c.openChannel(1);
    expect(c.methods.filter((m) => m.id === MethodId.ChannelOpenOk)).toHaveLength(2);
    await c.close();
    expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionClose);
  });

  it('reopening an open channel is 504 "second \'channel.open\' seen"', async () => {
    const c = await open();
    await c.openChannel(5);
    c.sendMethod(5, { id: MethodId.ChannelOpen, args: {} });
    expect(await c.expectConnectionClose()).toEqual({ replyCode: 504, replyText: "CHANNEL_ERROR - second 'channel.open' seen", classId: 20, methodId: 10 });
  });

  it('a method on a channel that was never opened is 504 "expected \'channel.open\'" with its class/method ids', async () => {
    const c = await open();
    c.sendMethod(7, { id: MethodId.QueueDeclare, args: { queue: 'q' } });
    expect(await c.expectConnectionClose()).toEqual({ replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open'", classId: 50, methodId: 10 });
  });

  it('a method on a channel that was closed is 504 too', async () => {
    const c = await open();
    await c.openChannel(1);
    c.sendMethod(1, { id: MethodId.ChannelClose, args: { replyCode: 200, replyText: '', classId: 0, methodId: 0 } });
    await c.waitForMethod(MethodId.ChannelCloseOk, 1);
    c.sendMethod(1, { id: MethodId.BasicQos, args: { prefetchCount: 1 } });
    const close = await c.expectConnectionClose();
    expect(close.replyCode).toBe(504);
    expect(close.replyText).toBe("CHANNEL_ERROR - expected 'channel.open'");
  });

  it('channel frames before connection.open are refused (the handshake is on channel 0 only)', async () => {
    const c = await RawClient.connect(broker.port);
    clients.push(c);
    await c.handshake({ until: 'tune-ok' });
    c.sendMethod(1, { id: MethodId.ChannelOpen, args: {} });
    const close = await c.expectConnectionClose();
    expect(close.replyCode).toBe(505);
  });

  it('a heartbeat frame on a non-zero channel is 505 UNEXPECTED_FRAME', async () => {
    const c = await open();
    await c.openChannel(1);
    c.sendFrame(Constants.FRAME_HEARTBEAT, 1, Buffer.alloc(0));
    expect((await c.expectConnectionClose()).replyCode).toBe(505);
  });

  it('after a connection error everything but close-ok is ignored, and the socket closes after close-ok', async () => {
    const c = await open();
    c.sendMethod(0, { id: MethodId.ChannelOpen, args: {} });
    await c.waitForMethod(MethodId.ConnectionClose, 0);
    const before = c.frames.length;
    c.sendMethod(1, { id: MethodId.ChannelOpen, args: {} });
    c.sendMethod(0, { id: MethodId.ConnectionOpen, args: { virtualHost: '/' } });
    // Nothing to round-trip on this connection: written, then another client's round trips.
    await eventually(() => c.socket.writableLength === 0, WAIT_MS, 'the frames written');
    await brokerBarrier(broker);
    expect(c.frames.length).toBe(before);
    expect(c.closed).toBe(false);
    c.sendMethod(0, { id: MethodId.ConnectionCloseOk, args: {} });
    await c.waitClosed();
  });
});
