/**
 * The x-death bookkeeping of dead-lettering (src/broker/dead-letter.ts) against
 * RabbitMQ 3.x's rabbit_dead_letter (update_x_death_header), at the level the
 * integration suites cannot see: exact times (a repeated death keeps the
 * entry's first time), field types, entry key order, the cycle rule, and that
 * the headers survive an encode/decode round trip.
 */
import { describe, expect, it } from 'vitest';
import { deadLetteredMessage, deathsOf, isDeadLetterCycle } from '../../src/broker/dead-letter.js';
import { Message } from '../../src/broker/message.js';
import { Typed, decodeContentProperties, encodeContentHeader, type BasicProperties, type FieldTable } from '../../src/protocol/index.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

function message(props: BasicProperties, exchange = 'in', routingKey = 'rk'): Message {
  const body = Buffer.from('b');
  return new Message(exchange, routingKey, encodeContentHeader(body.length, props), body, body.length);
}

/** Re-reads the message's headers from its encoded content header, as the next hop would. */
function onWire(m: Message): Message {
  return message(decodeContentProperties(m.header), m.exchange, m.routingKey);
}

const xdeath = (m: Message): FieldTable[] => m.properties.headers!['x-death'] as FieldTable[];

describe('deadLetteredMessage', () => {
  it('first death: a long count, a timestamp, the entry in RabbitMQ\'s order, x-first-death-*, no expiration', () => {
    const m = deadLetteredMessage(message({ expiration: '500', headers: { CC: ['c1'] } }), 'q1', 'expired', 'dlx', 'rk', false, T0);
    const [entry] = xdeath(m);
    expect(Object.keys(entry!)).toEqual(['count', 'reason', 'queue', 'time', 'exchange', 'routing-keys', 'original-expiration']);
    expect(entry!['count']).toEqual(new Typed('l', 1));
    expect(entry!['time']).toEqual(new Date(T0));
    expect(entry!['routing-keys']).toEqual(['rk', 'c1']);
    expect(entry!['original-expiration']).toBe('500');
    expect(m.properties.expiration).toBeUndefined();
    expect(m.properties.headers).toMatchObject({ CC: ['c1'], 'x-first-death-reason': 'expired', 'x-first-death-queue': 'q1', 'x-first-death-exchange': 'in' });
    expect([m.exchange, m.routingKey]).toEqual(['dlx', 'rk']);
  });

  it('a repeated death (same queue and reason) increments the count, moves the entry first, keeps its first time, sorts its keys', () => {
    let m = deadLetteredMessage(message({}), 'a', 'rejected', '', 'b', true, T0);
    m = onWire(deadLetteredMessage(onWire(m), 'b', 'rejected', '', 'a', true, T0 + 5_000));
    m = deadLetteredMessage(m, 'a', 'rejected', '', 'b', true, T0 + 10_000);
    const [a, b] = xdeath(m);
    expect(a).toEqual({ count: new Typed('l', 2), exchange: 'in', queue: 'a', reason: 'rejected', 'routing-keys': ['rk'], time: new Date(T0) });
    expect(Object.keys(a!)).toEqual(['count', 'exchange', 'queue', 'reason', 'routing-keys', 'time']);
    expect(b).toEqual({ count: new Typed('l', 1), exchange: '', queue: 'b', reason: 'rejected', 'routing-keys': ['b'], time: new Date(T0 + 5_000) });
    // Only the first death set x-first-death-*.
    expect(m.properties.headers).toMatchObject({ 'x-first-death-reason': 'rejected', 'x-first-death-queue': 'a', 'x-first-death-exchange': 'in' });
    // The count stays a long through the wire (decoded as a number, written back as 'l').
    const again = deadLetteredMessage(onWire(m), 'a', 'rejected', '', 'b', true, T0 + 20_000);
    expect(xdeath(again).map((d) => d['count'])).toEqual([new Typed('l', 3), new Typed('l', 1)]);
  });

  it('a dead-letter routing key drops the CC header; without one it stays', () => {
    const withRk = deadLetteredMessage(message({ headers: { CC: ['x'], keep: 1 } }), 'q', 'rejected', 'dlx', 'dead', true, T0);
    expect(withRk.properties.headers!['CC']).toBeUndefined();
    expect(withRk.properties.headers!['keep']).toBe(1);
    const without = deadLetteredMessage(message({ headers: { CC: ['x'] } }), 'q', 'rejected', 'dlx', 'rk', false, T0);
    expect(without.properties.headers!['CC']).toEqual(['x']);
  });

  it('an x-death that is not an array is reset, without x-first-death-*', () => {
    const m = deadLetteredMessage(message({ headers: { 'x-death': 'mangled' } }), 'q', 'expired', '', 'q2', true, T0);
    expect(xdeath(m).length).toBe(1);
    expect(m.properties.headers!['x-first-death-reason']).toBeUndefined();
  });
});

describe('isDeadLetterCycle (rabbit_dead_letter:is_cycle)', () => {
  const d = (queue: string, reason: string): { queue: string; reason: string } => ({ queue, reason });
  it.each([
    ['never died in the target', [d('a', 'expired')], 'b', false],
    ['died there, automatic only', [d('b', 'expired'), d('a', 'expired')], 'a', true],
    ['a rejection since', [d('b', 'expired'), d('a', 'rejected')], 'a', false],
    ['a rejection after the cycle closed does not count', [d('a', 'expired'), d('c', 'rejected')], 'a', true],
    ['the newest death is a rejection', [d('a', 'rejected')], 'a', false],
    ['maxlen is automatic too', [d('a', 'maxlen')], 'a', true],
  ])('%s', (_what, deaths, target, cycle) => {
    expect(isDeadLetterCycle(target, deaths)).toBe(cycle);
  });

  it('reads the deaths from headers', () => {
    const m = deadLetteredMessage(message({}), 'q', 'expired', '', 'q', true, T0);
    expect(deathsOf(m.properties.headers)).toEqual([{ queue: 'q', reason: 'expired' }]);
  });
});
