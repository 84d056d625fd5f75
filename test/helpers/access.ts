/** Helpers for the access-control tests: a user with given permissions, and exact-text refusals. */
import type { Channel } from 'amqplib';
import { expect } from 'vitest';
import type { Broker } from '../../src/index.js';
import { connect, type AmqpConnection } from './broker.js';
import { expectChannelError, type ClientError } from './model.js';

export interface Perms {
  configure: string;
  write: string;
  read: string;
}

export const ALL: Perms = { configure: '.*', write: '.*', read: '.*' };

/** Opens connections as users the test created, and closes them all at the end. */
export class Users {
  private readonly open = new Set<AmqpConnection>();
  private n = 0;

  constructor(private readonly broker: () => Broker) {}

  /** A fresh user with these permissions on `vhost`, and a channel of a connection as that user. */
  async channelAs(perms: Perms, options: { vhost?: string; tags?: string[]; name?: string } = {}): Promise<{ ch: Channel; conn: AmqpConnection; user: string }> {
    const user = options.name ?? `u${++this.n}-${process.pid}`;
    const b = this.broker();
    b.addUser(user, 'pw', options.tags ?? []);
    b.setPermissions(user, options.vhost ?? '/', perms);
    const conn = await this.connect(user, options.vhost);
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    return { ch, conn, user };
  }

  async connect(user: string, vhost?: string, password = 'pw'): Promise<AmqpConnection> {
    const conn = await connect(this.broker(), { user, password, vhost });
    conn.on('error', () => {});
    this.open.add(conn);
    conn.on('close', () => this.open.delete(conn));
    return conn;
  }

  async closeAll(): Promise<void> {
    const conns = [...this.open];
    this.open.clear();
    await Promise.allSettled(conns.map((c) => c.close()));
  }
}

/** The channel is closed with 403 and exactly this text. */
export async function expectRefused(ch: Channel, action: () => unknown, text: string): Promise<ClientError> {
  const err = await expectChannelError(ch, action, 403, text);
  expect(err.message).toContain(`with message "${text}"`);
  return err;
}
