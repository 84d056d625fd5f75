/**
 * Everything the cluster keeps in etcd, through the `etcd3` client (gRPC:
 * leases, keep-alives and transactions are built in, and it is well kept; the
 * JSON gateway would mean hand-rolling the same over fetch):
 *
 *   /warren/<cluster>/secret   the shared replication secret (created once)
 *   /warren/<cluster>/leader   the leader's NodeAddress, attached to its lease
 *   /warren/<cluster>/isr      JSON array of in-sync node names (leader first)
 *
 * Each node holds one lease. Its keep-alive is driven here (not by the
 * client's background loop) so the node knows how long its lease is certainly
 * valid: `validUntil` is the send time of the last answered keep-alive plus
 * the TTL. `fresh` says etcd answered within half a TTL: confirms need it, so
 * nothing is confirmed while etcd is unreachable.
 */
import { randomBytes } from 'node:crypto';
import { Etcd3, type Lease } from 'etcd3';
import { noop } from 'cockatiel';
import { reportFailure, type ErrorLog } from '../observe/guard.js';

/** How a node is reached, published as the leader key's value. */
export interface NodeAddress {
  node: string;
  /** host:port of the replication listener. */
  replication: string;
  /** host:port of the AMQP listener. */
  amqp: string;
  /** host:port of the management HTTP listener, or '' without one. */
  http: string;
}

export class Coordinator {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private lease: Lease | null = null;
  private leaseId = '';
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private lastAnsweredSentAt = 0;
  private closed = false;
  /** Called once when the current lease is known lost (expired, revoked, or unanswered past its TTL). */
  onLeaseLost: (() => void) | null = null;
  /** Called after each answered keep-alive. */
  onKeepalive: (() => void) | null = null;
  /** Where a failure in the keep-alive loop (its callbacks included) is logged. */
  logger: ErrorLog | null = null;

  constructor(endpoints: string[], cluster: string, private readonly ttlSeconds: number) {
    const noRetry = noop;
    this.client = new Etcd3({
      hosts: endpoints,
      // No retries and no circuit breaker: the node's own loops retry, and must see etcd back at once.
      faultHandling: { host: () => noRetry, global: noRetry },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + Math.max(1000, (ttlSeconds * 1000) / 3) }),
      dialTimeout: 2000,
    });
    this.prefix = `/warren/${cluster}/`;
  }

  get ttlMs(): number {
    return this.ttlSeconds * 1000;
  }

  /** The lease is certainly still valid (etcd cannot have expired it yet). */
  get leaseValid(): boolean {
    return this.leaseId !== '' && Date.now() < this.lastAnsweredSentAt + this.ttlMs;
  }

  /** etcd answered a keep-alive within half a TTL. */
  get fresh(): boolean {
    return this.leaseId !== '' && Date.now() < this.lastAnsweredSentAt + this.ttlMs / 2;
  }

  /** The shared secret: `given` (stored if none is), else the stored one, else a new one stored now. */
  async secret(given: string | undefined): Promise<string> {
    const key = `${this.prefix}secret`;
    const fresh = given ?? randomBytes(24).toString('base64url');
    await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(fresh)).commit();
    if (given !== undefined) return given;
    const stored = await this.client.get(key).string();
    if (stored === null) throw new Error('cluster secret vanished from etcd');
    return stored;
  }

  /** Grants a new lease and starts keeping it alive. */
  async grantLease(): Promise<void> {
    this.stopKeepalive();
    const sentAt = Date.now();
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: false });
    lease.on('lost', () => undefined); // reported through keepalive below
    this.leaseId = await lease.grant();
    this.lease = lease;
    this.lastAnsweredSentAt = sentAt;
    this.scheduleKeepalive();
  }

  private scheduleKeepalive(): void {
    if (this.closed) return;
    // keepalive() is async: a throw in it (or in a callback it calls) would be an unhandled rejection, which ends the process.
    this.keepaliveTimer = setTimeout(() => this.keepalive().catch((err: unknown) => reportFailure(this.logger, 'etcd lease keep-alive', {}, err)), Math.max(100, this.ttlMs / 5));
  }

  private async keepalive(): Promise<void> {
    const lease = this.lease;
    if (!lease || this.closed) return;
    const sentAt = Date.now();
    try {
      const res = await lease.keepaliveOnce();
      if (lease !== this.lease) return;
      if (Number(res.TTL) <= 0) return this.lost();
      this.lastAnsweredSentAt = sentAt;
      this.onKeepalive?.();
    } catch {
      if (lease !== this.lease) return;
      // etcd unreachable: the lease may still be valid; it is lost once its TTL has run out unanswered.
    }
    if (!this.leaseValid) return this.lost();
    this.scheduleKeepalive();
  }

  private lost(): void {
    this.stopKeepalive();
    this.leaseId = '';
    this.lease = null;
    this.onLeaseLost?.();
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer) clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = null;
  }

  /** The current leader, or null when there is none. */
  async leader(): Promise<NodeAddress | null> {
    const v = await this.client.get(`${this.prefix}leader`).string();
    return v === null ? null : (JSON.parse(v) as NodeAddress);
  }

  /** The in-sync set as stored, or null in a cluster that never had a leader. */
  async isr(): Promise<string[] | null> {
    const v = await this.client.get(`${this.prefix}isr`).string();
    return v === null ? null : (JSON.parse(v) as string[]);
  }

  /** Takes the leader key with this node's lease if nobody holds it; true when won. */
  async campaign(self: NodeAddress): Promise<boolean> {
    if (!this.lease || !this.leaseValid) return false;
    const key = `${this.prefix}leader`;
    const res = await this.client.if(key, 'Create', '==', 0).then(this.client.put(key).value(JSON.stringify(self)).lease(this.leaseId)).commit();
    return res.succeeded;
  }

  /**
   * Stores the in-sync set, only while `self` still holds the leader key
   * (fencing: a deposed leader's write fails). False when it is not leader.
   */
  async writeIsr(self: NodeAddress, members: string[]): Promise<boolean> {
    const res = await this.client
      .if(`${this.prefix}leader`, 'Value', '==', JSON.stringify(self))
      .then(this.client.put(`${this.prefix}isr`).value(JSON.stringify(members)))
      .commit();
    return res.succeeded;
  }

  /** Gives the lease back (the leader key goes with it) and stops keeping it alive. */
  async resign(): Promise<void> {
    const lease = this.lease;
    this.stopKeepalive();
    this.lease = null;
    this.leaseId = '';
    if (lease) await lease.revoke().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.resign();
    this.client.close();
  }
}
