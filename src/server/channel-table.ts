import type { VirtualHost } from '../broker/virtual-host.js';
import { MethodId, ReplyCode, methodError } from '../protocol/index.js';
import { Channel } from './channel.js';
import type { ChannelHost } from './channel-host.js';
import type { ChannelSnapshot } from './snapshot.js';

/** The open channels of one connection, by number. */
export class ChannelTable {
  private readonly channels = new Map<number, Channel>();

  get size(): number {
    return this.channels.size;
  }

  get(id: number): Channel | undefined {
    return this.channels.get(id);
  }

  /** channel.open on a free number: numbers run 1..channel_max (0 negotiated: 65535). */
  open(host: ChannelHost, id: number, channelMax: number, vhost: VirtualHost, username: string): Channel {
    // Channel numbers run 1..channel_max (the rule). RabbitMQ itself counts open
    // channels instead (530 "number of channels opened ... has reached the negotiated
    // channel_max"); with numbers bounded by channel_max the count never exceeds it either.
    const max = channelMax === 0 ? 65535 : channelMax;
    if (id > max) throw methodError(ReplyCode.ChannelError, `channel number ${id} exceeds the negotiated channel_max ${max}`, MethodId.ChannelOpen);
    const opened = new Channel(host, id, vhost, username);
    this.channels.set(id, opened);
    return opened;
  }

  /** A channel finished closing (close-ok exchanged): its number may be reused. */
  delete(id: number): void {
    this.channels.delete(id);
  }

  /** The connection is going away: every channel releases its session. */
  closeAll(): void {
    for (const ch of this.channels.values()) ch.connectionClosed();
    this.channels.clear();
  }

  /** The socket drained: deliveries go on. */
  resumeAll(): void {
    for (const ch of this.channels.values()) ch.resume();
  }

  /** The user's credentials were renewed: consumers it may no longer read from are cancelled. */
  recheckConsumers(): void {
    for (const ch of this.channels.values()) ch.recheckConsumers();
  }

  snapshots(connectionName: string, peerHost: string, peerPort: number): ChannelSnapshot[] {
    return [...this.channels.values()].map((ch) => ch.snapshot(connectionName, peerHost, peerPort));
  }

  describeInFlight(includeUnacked: boolean, out: string[]): void {
    for (const ch of this.channels.values()) ch.describeInFlight(includeUnacked, out);
  }
}
