/**
 * SASL responses that must not log anyone in, over a raw socket: an AMQPLAIN
 * table whose credentials sit only under a "__proto__" entry, and PLAIN
 * responses with an authorization identity (RabbitMQ's PLAIN accepts only an
 * empty one). Each is refused like a wrong password (403 with RabbitMQ's
 * generic text), and a well-formed login still works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker } from '../../src/index.js';
import { MethodId } from '../../src/protocol/index.js';
import { startBroker } from '../helpers/broker.js';
import { RawClient, amqplainResponse } from '../helpers/raw-client.js';

function protoOnlyAmqplain(user: string, password: string): Buffer {
  const nested = amqplainResponse(user, password);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(nested.length);
  return Buffer.concat([Buffer.from([9]), Buffer.from('__proto__'), Buffer.from('F'), len, nested]);
}

describe('SASL responses', () => {
  let broker: Broker;
  beforeAll(async () => { broker = await startBroker({ users: [{ name: 'guest', password: 'guest' }, { name: 'admin', password: 'admin' }] }); });
  afterAll(async () => { await broker.stop(); });

  async function refused(mechanism: string, response: Buffer): Promise<void> {
    const c = await RawClient.connect(broker.port);
    await c.handshake({ mechanism, response, until: 'start-ok' });
    const close = await c.expectConnectionClose();
    expect(close).toEqual({ replyCode: 403, replyText: `ACCESS_REFUSED - Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`, classId: 0, methodId: 0 });
    expect(c.methods.map((m) => m.id)).not.toContain(MethodId.ConnectionTune);
  }

  it('AMQPLAIN with the credentials only under "__proto__" is refused', async () => {
    await refused('AMQPLAIN', protoOnlyAmqplain('guest', 'guest'));
  });

  it('PLAIN with an authorization identity other than the user is refused', async () => {
    await refused('PLAIN', Buffer.from('admin\0guest\0guest'));
  });

  it('PLAIN with an authorization identity naming the user is refused too (RabbitMQ accepts only an empty one)', async () => {
    await refused('PLAIN', Buffer.from('guest\0guest\0guest'));
  });

  it('well-formed PLAIN and AMQPLAIN logins still open', async () => {
    for (const mechanism of ['PLAIN', 'AMQPLAIN']) {
      const c = await RawClient.open(broker.port, { mechanism, user: 'admin', password: 'admin' });
      await c.openChannel(1);
      const ids = c.methods.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining([MethodId.ConnectionTune, MethodId.ConnectionOpenOk, MethodId.ChannelOpenOk]));
      expect(ids).not.toContain(MethodId.ConnectionClose);
      await c.close();
    }
  });
});
