/**
 * `warren perf`: AMQP URL parsing and flag parsing (no network).
 */
import { describe, expect, it } from 'vitest';
import { PerfUsageError, parsePerfArgs, type PerfOptions } from '../../src/perf/options.js';
import { UrlError, describeUrl, parseAmqpUrl, redactUrl } from '../../src/perf/url.js';

describe('parseAmqpUrl', () => {
  it('reads user, password, host, port and vhost', () => {
    expect(parseAmqpUrl('amqp://alice:s3cret@broker.example:5673/prod')).toEqual({
      tls: false,
      host: 'broker.example',
      port: 5673,
      user: 'alice',
      password: 's3cret',
      vhost: 'prod',
      heartbeat: 0,
      frameMax: 0,
      channelMax: 0,
      connectTimeout: 10_000,
    });
  });

  it('defaults: guest/guest, localhost, 5672, vhost "/"', () => {
    const u = parseAmqpUrl('amqp://');
    expect([u.user, u.password, u.host, u.port, u.vhost]).toEqual(['guest', 'guest', 'localhost', 5672, '/']);
    expect(parseAmqpUrl('amqp://localhost').vhost).toBe('/');
  });

  it('an empty path (trailing slash) means the default vhost, as amqplib does', () => {
    expect(parseAmqpUrl('amqp://guest:guest@localhost:5672/').vhost).toBe('/');
  });

  it('percent-decodes the vhost, user and password', () => {
    expect(parseAmqpUrl('amqp://localhost/%2F').vhost).toBe('/');
    expect(parseAmqpUrl('amqp://localhost/a%2Fb').vhost).toBe('a/b');
    const u = parseAmqpUrl('amqp://us%40er:p%3Ass%2Fw@h/v');
    expect([u.user, u.password]).toEqual(['us@er', 'p:ss/w']);
  });

  it('a user without a password gets an empty password', () => {
    const u = parseAmqpUrl('amqp://bob@h');
    expect([u.user, u.password]).toEqual(['bob', '']);
  });

  it('amqps defaults to port 5671', () => {
    const u = parseAmqpUrl('amqps://h');
    expect([u.tls, u.port]).toEqual([true, 5671]);
  });

  it('IPv6 literals in brackets', () => {
    const u = parseAmqpUrl('amqp://[::1]:5680/v');
    expect([u.host, u.port, u.vhost]).toEqual(['::1', 5680, 'v']);
    expect(describeUrl(u)).toBe('amqp://[::1]:5680/v');
  });

  it('query parameters: heartbeat, frame_max, channel_max, connection_timeout; others ignored', () => {
    const u = parseAmqpUrl('amqp://h/?heartbeat=30&frame_max=8192&channel_max=10&connection_timeout=500&verify=verify_none');
    expect([u.heartbeat, u.frameMax, u.channelMax, u.connectTimeout, u.vhost]).toEqual([30, 8192, 10, 500, '/']);
  });

  it('rejects what is not an AMQP URL', () => {
    for (const bad of ['http://h', 'localhost:5672', 'amqp:/h', 'amqp://h:99999', 'amqp://h:0', 'amqp://h/a/b', 'amqp://h/%ZZ', 'amqp://h?heartbeat=x', 'amqp://h?frame_max=100']) {
      expect(() => parseAmqpUrl(bad), bad).toThrow(UrlError);
    }
  });

  it('redacts the password for display', () => {
    expect(redactUrl('amqp://guest:guest@localhost:5672/')).toBe('amqp://guest:***@localhost:5672/');
    expect(redactUrl('amqp://localhost')).toBe('amqp://localhost');
  });
});

describe('parsePerfArgs', () => {
  const parse = (...argv: string[]): PerfOptions => {
    const o = parsePerfArgs(argv);
    if (!o) throw new Error('help');
    return o;
  };
  const usage = (...argv: string[]): string => {
    try {
      parsePerfArgs(argv);
    } catch (err) {
      expect(err).toBeInstanceOf(PerfUsageError);
      return (err as Error).message;
    }
    throw new Error(`no usage error for ${argv.join(' ')}`);
  };

  it('--help returns null', () => {
    expect(parsePerfArgs(['--help'])).toBeNull();
    expect(parsePerfArgs(['throughput', '-h'])).toBeNull();
  });

  it('each scenario has its own defaults', () => {
    const t = parse('throughput');
    expect([t.publishers, t.consumers, t.queues, t.size, t.time, t.ack, t.confirm, t.runs, t.url]).toEqual([1, 1, 1, 64, 10, false, 0, 1, 'amqp://guest:guest@localhost:5672/']);
    expect(parse('latency').rate).toBe(2000);
    expect(parse('fanout').queues).toBe(10);
    const topic = parse('topic');
    expect([topic.queues, topic.bindings, topic.routingKeys]).toEqual([100, 1000, 1000]);
    expect(parse('connections').connections).toBe(500);
    const b = parse('backlog');
    expect([b.messages, b.size]).toEqual([500_000, 100]);
  });

  it('long and short flags', () => {
    const o = parse('throughput', '-u', 'amqp://h:1/v', '-t', '2.5', '-x', '3', '-y', '4', '-q', '2', '-s', '1024', '-r', '500', '-C', '1000', '-a', '-p', '100', '-m', '10', '-f', '-c', '256', '--json');
    expect(o).toMatchObject({ url: 'amqp://h:1/v', time: 2.5, publishers: 3, consumers: 4, queues: 2, size: 1024, rate: 500, messages: 1000, ack: true, prefetch: 100, multiAck: 10, persistent: true, durable: true, confirm: 256, json: true });
  });

  it('--vs defaults to 5 runs; --runs overrides', () => {
    expect(parse('throughput', '--vs', 'amqp://other').runs).toBe(5);
    expect(parse('throughput', '--vs', 'amqp://other', '--runs', '3').runs).toBe(3);
    expect(parse('throughput', '--runs', '2', '--vs', 'amqp://other').runs).toBe(2);
  });

  it('--multi-ack above 1 implies --ack; --durable alone keeps messages transient', () => {
    expect(parse('throughput', '-m', '5').ack).toBe(true);
    const d = parse('throughput', '--durable');
    expect([d.durable, d.persistent]).toEqual([true, false]);
  });

  it('broker pids', () => {
    const o = parse('backlog', '--broker-pid', '123', '--vs', 'amqp://b', '--vs-broker-pid', '456');
    expect([o.brokerPid, o.vsBrokerPid]).toEqual([123, 456]);
  });

  it('usage errors', () => {
    expect(usage()).toMatch(/missing scenario/);
    expect(usage('nope')).toMatch(/unknown scenario 'nope'/);
    expect(usage('throughput', 'extra')).toMatch(/unexpected argument/);
    expect(usage('throughput', '--bogus')).toMatch(/bogus/);
    expect(usage('throughput', '--size', 'big')).toMatch(/--size expects an integer/);
    expect(usage('throughput', '--time', '0')).toMatch(/--time must be greater than 0/);
    expect(usage('throughput', '--time', '-1')).toMatch(/--time/);
    expect(usage('throughput', '--url', 'http://x')).toMatch(/--url: not an AMQP URL/);
    expect(usage('throughput', '--vs', 'amqp://h/a/b')).toMatch(/--vs: .*percent-encode/);
    expect(usage('throughput', '--runs', '0')).toMatch(/--runs must be between 1/);
    expect(usage('throughput', '-a', '-p', '10', '-m', '20')).toMatch(/exceeds --prefetch/);
    expect(usage('latency', '-s', '4')).toMatch(/at least 8/);
    expect(usage('latency', '-r', '0')).toMatch(/fixed --rate/);
    expect(usage('backlog', '-C', '0')).toMatch(/--messages > 0/);
    expect(usage('throughput', '-x', '0')).toMatch(/at least one publisher/);
    expect(usage('throughput', '--vs-broker-pid', '1')).toMatch(/needs --vs/);
    expect(usage('throughput', '--listen', '5000')).toMatch(/sink scenario/);
    expect(usage('sink', '-c', '10')).toMatch(/never confirms/);
    expect(usage('throughput', '--time')).toMatch(/argument missing|--time/);
  });
});
