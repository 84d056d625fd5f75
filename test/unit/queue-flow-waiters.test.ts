import { describe, expect, it } from 'vitest';
import { Queue } from '../../src/broker/queue.js';
import { parseQueueArguments } from '../../src/broker/queue-arguments.js';

describe('publisher flow waiters', () => {
  it('a publisher that asks to wait again while the queue stays congested is kept once, and resumed once', () => {
    const policy = parseQueueArguments({}, "queue 'q' in vhost '/'", { durable: false, exclusive: false, autoDelete: false });
    const q = new Queue('q', { durable: false, exclusiveOwner: null, autoDelete: false, arguments: {}, policy });
    let resumed = 0;
    const publisher = { flowResumed: () => void resumed++ };
    for (let i = 0; i < 100; i++) q.addFlowWaiter(publisher);
    q.dispose();
    expect(resumed).toBe(1);
  });
});
