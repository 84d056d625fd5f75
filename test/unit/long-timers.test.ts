/**
 * Timers longer than setTimeout's 2^31−1 ms: the clamping helper, and the
 * queue timers built on it (x-message-ttl, a message's own expiration,
 * x-expires), on a fake clock. RabbitMQ accepts up to 2^32−1 ms; Node would
 * turn such a delay into 1 ms and fire a thousand times a second.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_DELAY, setLongTimeout } from '../../src/observe/long-timer.js';
import { Message } from '../../src/broker/message.js';
import { Queue, type QueueHost } from '../../src/broker/queue.js';
import { parseQueueArguments } from '../../src/broker/queue-arguments.js';
import type { DeathReason } from '../../src/broker/dead-letter.js';
import { encodeContentHeader, type BasicProperties, type FieldTable } from '../../src/protocol/index.js';

const LONGEST = 2 ** 32 - 1; // RabbitMQ's largest TTL / x-expires

describe('setLongTimeout', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }));
  afterEach(() => void vi.useRealTimers());

  it('fires once, when the whole delay has passed, with a handful of steps', () => {
    const fn = vi.fn();
    setLongTimeout(fn, LONGEST);
    let steps = 0;
    // Run the clock forward one pending timer at a time, counting how many fire.
    while (vi.getTimerCount() > 0 && Date.now() < LONGEST * 2) {
      vi.advanceTimersToNextTimer();
      steps++;
      if (Date.now() < LONGEST) expect(fn).not.toHaveBeenCalled();
    }
    expect(fn).toHaveBeenCalledTimes(1);
    expect(steps).toBe(Math.ceil(LONGEST / MAX_TIMER_DELAY));
    expect(Date.now()).toBe(LONGEST);
  });

  it('fires at exactly the delay, not a millisecond early', () => {
    const fn = vi.fn();
    setLongTimeout(fn, MAX_TIMER_DELAY + 5);
    vi.advanceTimersByTime(MAX_TIMER_DELAY + 4);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('behaves as setTimeout for ordinary delays, and not at all once cleared', () => {
    const short = vi.fn();
    setLongTimeout(short, 250);
    vi.advanceTimersByTime(249);
    expect(short).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(short).toHaveBeenCalledTimes(1);

    const cleared = vi.fn();
    const t = setLongTimeout(cleared, LONGEST);
    vi.advanceTimersByTime(MAX_TIMER_DELAY + 10); // into the second step
    t.clear();
    vi.advanceTimersByTime(LONGEST);
    expect(cleared).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('setLongTimeout with the real clock', () => {
  it('never hands Node a delay it would clamp (no TimeoutOverflowWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    const t = setLongTimeout(() => {}, LONGEST);
    // Node emits the warning on the next tick; setImmediate comes after it.
    await new Promise((resolve) => setImmediate(resolve));
    t.clear();
    process.off('warning', onWarning);
    expect(warnings).toEqual([]);
  });
});

/** A stand-in for the vhost: records what the queue asks of it. */
function recordingHost(): QueueHost & { dead: [string, DeathReason][]; removed: string[] } {
  const dead: [string, DeathReason][] = [];
  const removed: string[] = [];
  return {
    dead,
    removed,
    logger: null,
    deadLetter: (_q, message, reason) => void dead.push([message.body.toString(), reason]),
    removeQueue: (q) => void removed.push(q.name),
  };
}

function queueWith(args: FieldTable): Queue {
  const policy = parseQueueArguments(args, "queue 'q' in vhost '/'", { durable: false, exclusive: false, autoDelete: false });
  return new Queue('q', { durable: false, exclusiveOwner: null, autoDelete: false, arguments: args, policy });
}

function message(body: string, properties: BasicProperties = {}): Message {
  const b = Buffer.from(body);
  return new Message('', 'q', encodeContentHeader(b.length, properties), b, b.length);
}

describe('queue timers beyond 2^31−1 ms (fake clock)', () => {
  beforeEach(() => void vi.useFakeTimers({ now: 0 }));
  afterEach(() => void vi.useRealTimers());

  it('x-message-ttl 2^32−1: the message expires then, not before, after a few timer steps', () => {
    const host = recordingHost();
    const q = queueWith({ 'x-message-ttl': LONGEST });
    q.host = host;
    q.enqueue(message('a'));
    let steps = 0;
    while (host.dead.length === 0 && vi.getTimerCount() > 0 && steps < 100) {
      vi.advanceTimersToNextTimer();
      steps++;
    }
    expect(host.dead).toEqual([['a', 'expired']]);
    expect(Date.now()).toBe(LONGEST);
    expect(steps).toBeLessThanOrEqual(3);
    expect(q.messageCount).toBe(0);
    q.dispose();
  });

  it("a message's own expiration of 2^32−1 ms expires it on time", () => {
    const host = recordingHost();
    const q = queueWith({});
    q.host = host;
    q.enqueue(message('b', { expiration: String(LONGEST) }));
    vi.advanceTimersByTime(LONGEST - 1);
    expect(q.messageCount).toBe(1);
    expect(host.dead).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(host.dead).toEqual([['b', 'expired']]);
    expect(q.messageCount).toBe(0);
    q.dispose();
  });

  it('x-expires 2^32−1: an unused queue goes then, not before', () => {
    const host = recordingHost();
    const q = queueWith({ 'x-expires': LONGEST });
    q.host = host;
    vi.advanceTimersByTime(LONGEST - 1);
    expect(host.removed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(host.removed).toEqual(['q']);
    q.dispose();
  });
});
