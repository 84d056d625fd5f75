/**
 * Vhost and user limits at the AMQP edge, with RabbitMQ's codes and texts
 * (rabbit_reader): max-connections at connection.open, a user's max-channels
 * at channel.open, both 530 NOT_ALLOWED connection errors.
 */
import { limitOf, type UserLimits } from '../broker/limits.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import { AmqpError, MethodId, ReplyCode, methodError } from '../protocol/index.js';

/** What admission reads of an open connection. */
export interface AdmittedConnection {
  readonly vhost: VirtualHost | null;
  readonly user: { readonly name: string } | null;
  readonly channelCount: number;
}

export class Admission {
  constructor(
    private readonly connections: Iterable<AdmittedConnection>,
    private readonly userLimits: ReadonlyMap<string, UserLimits>,
  ) {}

  /** connection.open: the vhost's, then the user's connection limit (RabbitMQ's order; both before the permission check). */
  checkOpen(self: object, vhost: VirtualHost, user: string): void {
    const vhostMax = limitOf(vhost.limits, 'max-connections');
    if (vhostMax !== undefined && this.count((c) => c !== self && c.vhost === vhost) >= vhostMax) {
      throw methodError(ReplyCode.NotAllowed, `access to vhost '${vhost.name}' refused for user '${user}': connection limit (${vhostMax}) is reached`, MethodId.ConnectionOpen);
    }
    const userMax = limitOf(this.userLimits.get(user), 'max-connections');
    if (userMax !== undefined && this.count((c) => c !== self && c.vhost !== null && c.user?.name === user) >= userMax) {
      throw methodError(ReplyCode.NotAllowed, `connection refused for user '${user}': user connection limit (${userMax}) is reached`, MethodId.ConnectionOpen);
    }
  }

  /** channel.open beyond the user's max-channels (counted over all its connections). */
  checkChannel(user: string): void {
    const max = limitOf(this.userLimits.get(user), 'max-channels');
    if (max === undefined) return;
    let open = 0;
    for (const c of this.connections) if (c.user?.name === user) open += c.channelCount;
    if (open >= max) throw new AmqpError(ReplyCode.NotAllowed, `number of channels opened for user '${user}' has reached the maximum allowed user limit of (${max})`);
  }

  private count(which: (c: AdmittedConnection) => boolean): number {
    let n = 0;
    for (const c of this.connections) if (which(c)) n++;
    return n;
  }
}
