import { describe, expect, it } from 'vitest';
import { ByteWriter, DeliverTemplate, MethodId, writeMethodFrame } from '../../src/protocol/index.js';
import { mulberry32 } from '../helpers/prng.js';

describe('DeliverTemplate', () => {
  it('writes exactly the bytes writeMethodFrame would, for every delivery of a random sequence', () => {
    const r = mulberry32(42);
    const template = new DeliverTemplate();
    const viaTemplate = new ByteWriter(64);
    const direct = new ByteWriter(64);
    const tags = ['amq.ctag-a', 'c2'];
    const keys = ['k', 'orders.eu', 'ключ'];
    let deliveryTag = 1;
    for (let i = 0; i < 2000; i++) {
      // Mostly repeats (the template path), sometimes a new tag/exchange/key (re-templating).
      const consumerTag = tags[r() < 0.9 ? 0 : 1]!;
      const exchange = r() < 0.9 ? 'x' : '';
      const routingKey = keys[r() < 0.8 ? 0 : Math.floor(r() * keys.length)]!;
      const redelivered = r() < 0.3;
      deliveryTag += r() < 0.01 ? 2 ** 32 : 1; // crosses the 32-bit boundary too
      template.write(viaTemplate, 7, consumerTag, deliveryTag, redelivered, exchange, routingKey);
      writeMethodFrame(direct, 7, { id: MethodId.BasicDeliver, args: { consumerTag, deliveryTag, redelivered, exchange, routingKey } });
      expect(Buffer.from(viaTemplate.take())).toEqual(Buffer.from(direct.take()));
    }
  });
});
