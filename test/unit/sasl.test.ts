/**
 * SASL response parsing (PLAIN, AMQPLAIN), the loopback check, and the
 * loopback-only user rule — the latter by driving a real `Connection` over a
 * fake socket whose peer address is not loopback (a test machine only has
 * loopback to connect over).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AccessControl } from '../../src/auth/access-control.js';
import { VirtualHost } from '../../src/broker/virtual-host.js';
import { resolveOptions, type BrokerOptions } from '../../src/config.js';
import { MethodId, PROTOCOL_HEADER } from '../../src/protocol/index.js';
import { Connection, isLoopback } from '../../src/server/connection.js';
import { ResourceAlarms } from '../../src/server/resource-alarms.js';
import { MECHANISMS, parseSaslResponse } from '../../src/server/sasl.js';
import { serverProperties } from '../../src/server/server-properties.js';
import { SocketLinger } from '../../src/server/socket-linger.js';
import { amqplainResponse, decodeFrames, methodFrame, plainResponse } from '../helpers/raw-client.js';

const u32be = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

describe('parseSaslResponse', () => {
  it('offers exactly PLAIN and AMQPLAIN, in that order', () => {
    expect([...MECHANISMS]).toEqual(['PLAIN', 'AMQPLAIN']);
  });

  it('PLAIN: NUL user NUL password (an empty authorization identity)', () => {
    expect(parseSaslResponse('PLAIN', plainResponse('guest', 'guest'))).toEqual({ username: 'guest', password: 'guest' });
    expect(parseSaslResponse('PLAIN', plainResponse('jürgen', 'pässwörd'))).toEqual({ username: 'jürgen', password: 'pässwörd' });
    expect(parseSaslResponse('PLAIN', Buffer.from('\0\0'))).toEqual({ username: '', password: '' });
  });

  it('PLAIN: an authorization identity is refused (null), as by RabbitMQ, whether or not it names the user', () => {
    // RabbitMQ's PLAIN takes the response as NUL user NUL password; anything before the first NUL
    // makes it an invalid response: nobody logs in as one user to act as another.
    expect(parseSaslResponse('PLAIN', Buffer.from('admin\0bob\0s3cret'))).toBeNull();
    expect(parseSaslResponse('PLAIN', Buffer.from('guest\0guest\0guest'))).toBeNull();
  });

  it('PLAIN: a response without two NULs, or with a third, is malformed (null)', () => {
    expect(parseSaslResponse('PLAIN', Buffer.from('guest guest'))).toBeNull();
    expect(parseSaslResponse('PLAIN', Buffer.from('\0guest'))).toBeNull();
    expect(parseSaslResponse('PLAIN', Buffer.alloc(0))).toBeNull();
    expect(parseSaslResponse('PLAIN', Buffer.from('\0u\0p\0q'))).toBeNull();
  });

  it('AMQPLAIN: a length-less field table with LOGIN and PASSWORD', () => {
    expect(parseSaslResponse('AMQPLAIN', amqplainResponse('guest', 'guest'))).toEqual({ username: 'guest', password: 'guest' });
    // The entries may come in either order (values are longstrs, 'S', as RabbitMQ requires).
    const reversed = Buffer.concat([
      Buffer.from([8]), Buffer.from('PASSWORD'), Buffer.from('S'), Buffer.from([0, 0, 0, 2]), Buffer.from('pw'),
      Buffer.from([5]), Buffer.from('LOGIN'), Buffer.from('S'), Buffer.from([0, 0, 0, 3]), Buffer.from('bob'),
    ]);
    expect(parseSaslResponse('AMQPLAIN', reversed)).toEqual({ username: 'bob', password: 'pw' });
  });

  it('AMQPLAIN: missing or non-string entries and truncated tables are malformed (null), never a throw', () => {
    const loginOnly = Buffer.concat([Buffer.from([5]), Buffer.from('LOGIN'), Buffer.from('S'), Buffer.from([0, 0, 0, 1]), Buffer.from('x')]);
    expect(parseSaslResponse('AMQPLAIN', loginOnly)).toBeNull();
    const numericLogin = Buffer.concat([
      Buffer.from([5]), Buffer.from('LOGIN'), Buffer.from('I'), Buffer.from([0, 0, 0, 1]),
      Buffer.from([8]), Buffer.from('PASSWORD'), Buffer.from('S'), Buffer.from([0, 0, 0, 1]), Buffer.from('p'),
    ]);
    expect(parseSaslResponse('AMQPLAIN', numericLogin)).toBeNull();
    const full = amqplainResponse('guest', 'guest');
    expect(parseSaslResponse('AMQPLAIN', full.subarray(0, full.length - 3))).toBeNull();
    expect(parseSaslResponse('AMQPLAIN', Buffer.from([0xff, 1, 2]))).toBeNull();
    expect(parseSaslResponse('AMQPLAIN', Buffer.alloc(0))).toBeNull();
  });

  it('AMQPLAIN: a "__proto__" entry cannot supply the credentials (no prototype is replaced)', () => {
    // {"__proto__": F{LOGIN, PASSWORD}} and nothing else: parsed into a plain object, the nested
    // table became its prototype and LOGIN/PASSWORD were read through it.
    const nested = amqplainResponse('guest', 'guest');
    const inner = Buffer.concat([u32be(nested.length), nested]);
    const proto = Buffer.concat([Buffer.from([9]), Buffer.from('__proto__'), Buffer.from('F'), inner]);
    expect(parseSaslResponse('AMQPLAIN', proto)).toBeNull();
    // Next to real entries, it changes nothing.
    expect(parseSaslResponse('AMQPLAIN', Buffer.concat([proto, amqplainResponse('bob', 'pw')]))).toEqual({ username: 'bob', password: 'pw' });
    expect(Object.prototype).not.toHaveProperty('LOGIN');
  });

  it('AMQPLAIN: the first LOGIN and PASSWORD count (as RabbitMQ\'s keysearch), and a first LOGIN that is no longstr is not skipped', () => {
    const twice = Buffer.concat([amqplainResponse('first', 'one'), amqplainResponse('second', 'two')]);
    expect(parseSaslResponse('AMQPLAIN', twice)).toEqual({ username: 'first', password: 'one' });
    const numericFirst = Buffer.concat([
      Buffer.from([5]), Buffer.from('LOGIN'), Buffer.from('s'), Buffer.from([0, 7]),
      amqplainResponse('guest', 'guest'),
    ]);
    expect(parseSaslResponse('AMQPLAIN', numericFirst)).toBeNull();
  });

  it('unknown mechanisms yield null', () => {
    expect(parseSaslResponse('EXTERNAL', plainResponse('guest', 'guest'))).toBeNull();
    expect(parseSaslResponse('plain', plainResponse('guest', 'guest'))).toBeNull();
  });
});

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:127.9.9.9', true],
    ['10.0.0.1', false],
    ['192.168.1.20', false],
    ['203.0.113.7', false],
    ['::ffff:10.0.0.1', false],
    ['1270.0.0.1', false],
    ['fe80::1', false],
    ['::', false],
    ['', false],
    [undefined, false],
  ] as const)('%s → %s', (address, expected) => {
    expect(isLoopback(address)).toBe(expected);
  });
});

/** Just enough of a net.Socket for a Connection: records writes, emits close on end/destroy. */
class FakeSocket extends EventEmitter {
  readonly remotePort = 40000;
  readonly chunks: Buffer[] = [];
  ended = false;
  destroyed = false;
  writableLength = 0;
  bytesRead = 0;
  constructor(readonly remoteAddress: string) {
    super();
  }
  setNoDelay(): this { return this; }
  cork(): void {}
  uncork(): void {}
  write(b: Buffer): boolean {
    this.chunks.push(Buffer.from(b));
    return true;
  }
  end(b?: Buffer): this {
    if (b) this.write(b);
    if (!this.ended && !this.destroyed) setImmediate(() => this.emit('close'));
    this.ended = true;
    return this;
  }
  destroy(): this {
    if (!this.ended && !this.destroyed) setImmediate(() => this.emit('close'));
    this.destroyed = true;
    return this;
  }
  get written(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

describe('loopback-only users (over a fake non-loopback socket)', () => {
  const open: Connection[] = [];
  afterEach(() => {
    for (const c of open) c.socket.destroy();
    open.length = 0;
  });

  /** A Connection from `address`; sends the protocol header and a start-ok, and returns what the server wrote. */
  async function login(address: string, user: string, password: string, options: BrokerOptions = {}, capabilities: Record<string, boolean> = { authentication_failure_close: true }): Promise<{ socket: FakeSocket; connection: Connection }> {
    const resolved = resolveOptions({ users: [{ name: 'guest', password: 'guest' }, { name: 'remote', password: 'pw' }], ...options });
    const access = new AccessControl();
    for (const u of resolved.users) {
      access.addUser(u.name, u.password);
      access.setPermissions({ user: u.name, vhost: '/', configure: '.*', write: '.*', read: '.*' });
    }
    const socket = new FakeSocket(address);
    const connection = new Connection(socket as unknown as Socket, {
      options: resolved,
      access,
      vhosts: new Map([['/', new VirtualHost('/')]]),
      logger: pino({ level: 'silent' }),
      serverProperties: serverProperties('test', 'RabbitMQ'),
      alarms: new ResourceAlarms(),
      lingering: new SocketLinger(),
      connectionClosed: () => {},
    });
    open.push(connection);
    socket.emit('data', Buffer.concat([
      PROTOCOL_HEADER,
      methodFrame(0, { id: MethodId.ConnectionStartOk, args: { clientProperties: { capabilities }, mechanism: 'PLAIN', response: plainResponse(user, password) } }),
    ]));
    // Writes are flushed on setImmediate; the close (if any) follows on another.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    return { socket, connection };
  }

  const methodIds = (s: FakeSocket): number[] => decodeFrames(s.written).map((f) => f.method!.id);

  it('guest from a non-loopback address is refused with 403 and RabbitMQ\'s generic text', async () => {
    const { socket, connection } = await login('203.0.113.7', 'guest', 'guest');
    const frames = decodeFrames(socket.written);
    expect(frames.map((f) => f.method!.id)).toEqual([MethodId.ConnectionStart, MethodId.ConnectionClose]);
    expect(frames[1]!.method!.args).toEqual({
      replyCode: 403,
      replyText: 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.',
      classId: 0,
      methodId: 0,
    });
    expect(connection.user).toBeNull();
    expect(connection.state).toBe('closing');
  });

  it('guest from a non-loopback address without authentication_failure_close: socket closed, no close method', async () => {
    const { socket } = await login('::ffff:10.1.2.3', 'guest', 'guest', {}, {});
    expect(methodIds(socket)).toEqual([MethodId.ConnectionStart]);
    expect(socket.ended || socket.destroyed).toBe(true);
  });

  it('guest from an IPv4-mapped loopback address is accepted (tune follows)', async () => {
    const { socket, connection } = await login('::ffff:127.0.0.1', 'guest', 'guest');
    expect(methodIds(socket)).toEqual([MethodId.ConnectionStart, MethodId.ConnectionTune]);
    expect(connection.user?.name).toBe('guest');
  });

  it('a user not in loopbackUsers connects from anywhere', async () => {
    const { socket, connection } = await login('203.0.113.7', 'remote', 'pw');
    expect(methodIds(socket)).toEqual([MethodId.ConnectionStart, MethodId.ConnectionTune]);
    expect(connection.state).toBe('awaiting-tune-ok');
  });

  it('loopbackUsers: [] lets guest in from afar; listing another user restricts that one', async () => {
    const guest = await login('203.0.113.7', 'guest', 'guest', { loopbackUsers: [] });
    expect(methodIds(guest.socket)).toEqual([MethodId.ConnectionStart, MethodId.ConnectionTune]);
    const remote = await login('203.0.113.7', 'remote', 'pw', { loopbackUsers: ['remote'] });
    expect(methodIds(remote.socket)).toEqual([MethodId.ConnectionStart, MethodId.ConnectionClose]);
  });

  it('a wrong password from afar is the same 403 (no hint whether the user exists or is loopback-only)', async () => {
    const { socket } = await login('203.0.113.7', 'guest', 'wrong');
    const close = decodeFrames(socket.written)[1]!.method!;
    expect(close.id).toBe(MethodId.ConnectionClose);
    expect(close.args).toMatchObject({ replyCode: 403, replyText: 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.' });
  });
});
