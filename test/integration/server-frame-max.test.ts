/**
 * frame_max tolerance, over a raw socket with frame_max 8192 negotiated.
 * RabbitMQ accepts a frame whose payload is up to frame_max bytes (clients
 * that split bodies often forget the 8-byte frame overhead) and refuses
 * anything larger with 501 FRAME_ERROR.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { Constants, MethodId } from '../../src/protocol/index.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient, frameBytes, headerFrame, methodFrame, rawGet } from '../helpers/raw-client.js';

const FRAME_MAX = 8192;

/** Publishes `body` as ONE body frame (whatever its size) to the queue `q`, after declaring it. */
async function publishOneFrame(c: RawClient, q: string, body: Buffer): Promise<void> {
  await c.openChannel(1);
  c.sendMethod(1, { id: MethodId.QueueDeclare, args: { queue: q } });
  await c.waitForMethod(MethodId.QueueDeclareOk, 1);
  c.send(Buffer.concat([
    methodFrame(1, { id: MethodId.BasicPublish, args: { exchange: '', routingKey: q } }),
    headerFrame(1, body.length),
    frameBytes(Constants.FRAME_BODY, 1, body),
  ]));
}

describe('frame_max tolerance', () => {
  let broker: Broker;
  beforeAll(async () => { broker = await startBroker({ closeTimeout: 500 }); });
  afterAll(async () => { await broker.stop(); });

  for (const payload of [FRAME_MAX - 7, FRAME_MAX]) {
    it(`a body frame with a ${payload}-byte payload (${payload + 8} bytes in all) is accepted`, async () => {
      const c = await RawClient.open(broker.port, { frameMax: FRAME_MAX });
      const q = `fm-${payload}`;
      const body = Buffer.alloc(payload, 0x61 + (payload % 20));
      await publishOneFrame(c, q, body);
      // A confirm-free publish has no reply: the message arriving in the queue is the proof.
      const got = await rawGet(broker.port, q);
      expect(got?.body.equals(body)).toBe(true);
      expect(c.closed).toBe(false);
      expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionClose);
      await c.close();
    });
  }

  it('a body frame one byte over frame_max is refused with 501 FRAME_ERROR', async () => {
    const c = await RawClient.open(broker.port, { frameMax: FRAME_MAX });
    await publishOneFrame(c, 'fm-over', Buffer.alloc(FRAME_MAX + 1, 0x62));
    const close = await c.expectConnectionClose();
    expect(close.replyCode).toBe(501);
    expect(close.replyText).toBe(`FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,${FRAME_MAX + 1},${FRAME_MAX - 8}}`);
  });
});
