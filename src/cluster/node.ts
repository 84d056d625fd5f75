/**
 * One node of a Warren cluster: the roles and the moves between them.
 *
 * - **Follower**: holds the data directory's lock, applies the leader's
 *   replication stream to it, proxies AMQP and management connections to the
 *   leader, and campaigns for the leader key when there is none — only if it
 *   is in the in-sync set (or the cluster never had one).
 * - **Leader**: a Broker opened on the replicated data directory exactly as a
 *   restart would, with LeaderReplication attached to its store.
 * - A leader whose lease is no longer certainly valid (or whose fenced etcd
 *   write fails) fences replication (nothing more is confirmed), stops its
 *   broker (clients closed with 320) and becomes a follower again.
 */
import { hostname } from 'node:os';
import type { BrokerOptions } from '../config.js';
import type { Logger } from '../observe/logger.js';
import { guarded } from '../observe/guard.js';
import { DataDirLock } from '../store/lock.js';
import { Broker } from '../warren.js';
import { Coordinator, type NodeAddress } from './coordinator.js';
import { FollowerReplication } from './follower-replication.js';
import { LeaderReplication, type FollowerStatus } from './leader-replication.js';
import type { ClusterOptions } from './options.js';
import { TcpProxy } from './proxy.js';

export type Role = 'follower' | 'leader' | 'stopped';

export interface ClusterNodeStatus {
  node: string;
  role: Role;
  leader: string | null;
  inSync: string[];
  followers: FollowerStatus[];
}

export class ClusterNode {
  role: Role = 'follower';
  broker: Broker | null = null;
  private leaderRep: LeaderReplication | null = null;
  private readonly follower: FollowerReplication;
  private lock: DataDirLock | null = null;
  private proxies: TcpProxy[] = [];
  private leaderAddress: NodeAddress | null = null;
  /** The last leader this node followed. */
  private lastLeader = '';
  private pollTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private transition: Promise<void> = Promise.resolve();
  /** This node's addresses (its ports are known once the first proxies listen). */
  private self!: NodeAddress;
  private readonly dataDir: string;
  /** Called when the node stopped itself (its broker failed). */
  onFatal: ((err: Error) => void) | null = null;

  private constructor(
    private readonly brokerOptions: BrokerOptions & { dataDir: string; port: number },
    private readonly cluster: ClusterOptions,
    private readonly coordinator: Coordinator,
    private readonly secret: string,
    readonly logger: Logger,
  ) {
    this.dataDir = brokerOptions.dataDir;
    this.follower = new FollowerReplication({ dataDir: this.dataDir, node: cluster.node, secret, fsync: brokerOptions.fsync !== false, logger });
  }

  /** Joins the cluster as a follower (it campaigns at once if there is no leader). */
  static async start(brokerOptions: BrokerOptions & { dataDir: string; port: number }, cluster: ClusterOptions, logger: Logger): Promise<ClusterNode> {
    const coordinator = new Coordinator(cluster.etcd, cluster.name, cluster.leaseTtl);
    const secret = await coordinator.secret(cluster.secret);
    const node = new ClusterNode(brokerOptions, cluster, coordinator, secret, logger);
    coordinator.logger = logger;
    coordinator.onLeaseLost = () => node.leaseLost();
    coordinator.onKeepalive = () => node.leaderRep?.check();
    await node.becomeFollower();
    return node;
  }

  private get pollMs(): number {
    return Math.min(500, (this.cluster.leaseTtl * 1000) / 8);
  }

  private roleChanged(role: Role, detail: Record<string, unknown> = {}): void {
    this.role = role;
    this.logger.info({ node: this.cluster.node, role, ...detail }, `cluster: now ${role}`);
  }

  // ------------------------------------------------------------------ follower

  private async becomeFollower(): Promise<void> {
    this.lock = DataDirLock.acquire(this.dataDir);
    const host = this.brokerOptions.host ?? '0.0.0.0';
    const leaderOf = (pick: (a: NodeAddress) => string) => () => (this.leaderAddress ? pick(this.leaderAddress) || null : null);
    const amqp = await TcpProxy.listen(this.brokerOptions.port, host, leaderOf((a) => a.amqp));
    this.proxies = [amqp];
    const m = this.brokerOptions.management;
    const http = m ? await TcpProxy.listen(m.port, host, leaderOf((a) => a.http)) : null;
    if (http) this.proxies.push(http);
    // Port 0: the ports picked now stay this node's ports in every role.
    this.brokerOptions.port = amqp.port;
    if (m && http) this.brokerOptions.management = { port: http.port };
    const advertisedHost = this.cluster.advertise.slice(0, this.cluster.advertise.lastIndexOf(':')) || this.brokerOptions.host || hostname();
    this.self = { node: this.cluster.node, replication: this.cluster.advertise, amqp: `${advertisedHost}:${amqp.port}`, http: http ? `${advertisedHost}:${http.port}` : '' };
    this.roleChanged('follower', { amqpPort: amqp.port, httpPort: http?.port });
    this.schedulePoll(0);
  }

  private schedulePoll(ms: number): void {
    if (this.role !== 'follower') return;
    this.pollTimer = setTimeout(guarded(this.logger, 'cluster poll', {}, () => {
      this.pollTimer = null;
      this.poll().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'cluster: etcd not reachable'))
        .finally(() => this.schedulePoll(this.pollMs));
    }), ms);
  }

  /** Follows the leader etcd names, or campaigns when there is none. */
  private async poll(): Promise<void> {
    if (this.role !== 'follower') return;
    if (!this.coordinator.leaseValid) await this.coordinator.grantLease();
    const leader = await this.coordinator.leader();
    if (this.role !== 'follower') return;
    if (leader) {
      if (leader.node === this.cluster.node) return; // our previous lease's key: it expires
      if (this.leaderAddress?.node !== leader.node) this.logger.info({ leader: leader.node }, 'cluster: following');
      this.leaderAddress = leader;
      this.lastLeader = leader.node;
        // A leader that refused us (wrong secret) is retried every few seconds, not at every poll.
      if (this.follower.refusedAt > Date.now() - 5000) return;
      this.follower.follow(leader.replication);
      return;
    }
    this.leaderAddress = null;
    const isr = await this.coordinator.isr();
    if (isr !== null && !isr.includes(this.cluster.node)) return; // not in sync: may not lead
    if (this.role !== 'follower' || !(await this.coordinator.campaign(this.self))) return;
    // The leader before us lost its lease: it rejoins as a follower and catches up, so confirms need not wait for it.
    const previous = this.lastLeader;
    await this.run(() => this.becomeLeader((isr ?? []).filter((n) => n !== previous)));
  }

  // ------------------------------------------------------------------ leader

  private async becomeLeader(previousIsr: string[]): Promise<void> {
    const started = Date.now();
    this.role = 'leader';
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.follower.stop();
    this.leaderAddress = null;
    await Promise.all(this.proxies.map((p) => p.close()));
    this.proxies = [];
    this.lock?.release();
    this.lock = null;
    const rep = new LeaderReplication(previousIsr, {
      dataDir: this.dataDir,
      node: this.cluster.node,
      secret: this.secret,
      isrTimeout: this.cluster.isrTimeout,
      logger: this.logger,
      leaseFresh: () => this.coordinator.fresh,
      writeIsr: (members) => this.coordinator.writeIsr(this.self, members),
      onNotLeader: () => this.leaseLost(),
    });
    this.leaderRep = rep;
    try {
      const broker = await Broker.start(this.brokerOptions);
      broker.attachReplication(rep.replication);
      broker.clusterSource = () => ({
        members: [
          { node: this.cluster.node, role: 'leader', connected: true, inSync: true, lagBytes: 0, lagSeconds: 0 },
          ...rep.status().map((f) => ({ node: f.node, role: 'follower' as const, connected: f.connected, inSync: f.inSync, lagBytes: f.lagBytes, lagSeconds: f.lagSeconds })),
        ],
      });
      this.broker = broker;
      broker.onFatal = (err) => this.onFatal?.(err);
      await rep.start(this.cluster.port, this.brokerOptions.host ?? '0.0.0.0');
    } catch (err) {
      this.logger.error({ err }, 'cluster: could not take over as leader; stepping down');
      await this.stepDown();
      return;
    }
    this.roleChanged('leader', { ms: Date.now() - started });
    this.watchdog = setInterval(guarded(this.logger, 'cluster leadership watchdog', {}, () => {
      if (!this.coordinator.leaseValid) this.leaseLost();
    }), 100);
  }

  private leaseLost(): void {
    if (this.role !== 'leader' || this.leaderRep === null || this.leaderRep.isFenced) return;
    // Fence at once (synchronously): nothing is confirmed from here on.
    this.leaderRep?.fence();
    this.logger.warn({ node: this.cluster.node }, 'cluster: leadership lost; stopping the broker');
    void this.run(() => this.stepDown());
  }

  private async stepDown(): Promise<void> {
    if (this.role !== 'leader') return;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.leaderRep?.fence();
    this.leaderRep = null;
    const broker = this.broker;
    this.broker = null;
    await broker?.stop().catch((err: unknown) => this.logger.error({ err }, 'cluster: error stopping the broker'));
    await this.coordinator.resign();
    // The broker's ports and lock were just released; should taking them again fail, try again shortly.
    for (;;) {
      try {
        await this.becomeFollower();
        return;
      } catch (err) {
        await Promise.all(this.proxies.map((p) => p.close()));
        this.proxies = [];
        this.lock?.release();
        this.lock = null;
        this.logger.error({ err }, 'cluster: cannot become a follower yet; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** Role changes run one at a time. */
  private run(step: () => Promise<void>): Promise<void> {
    this.transition = this.transition.then(step).catch((err: unknown) => this.logger.error({ err }, 'cluster: role change failed'));
    return this.transition;
  }

  status(): ClusterNodeStatus {
    return {
      node: this.cluster.node,
      role: this.role,
      leader: this.role === 'leader' ? this.cluster.node : (this.leaderAddress?.node ?? null),
      inSync: this.leaderRep?.inSync ?? [],
      followers: this.leaderRep?.status() ?? [],
    };
  }

  /** Leaves the cluster: a leader gives its lease back (a follower takes over at once). */
  async stop(): Promise<void> {
    await this.run(async () => {
      const wasLeader = this.role === 'leader';
      this.role = 'stopped';
      if (this.pollTimer) clearTimeout(this.pollTimer);
      if (this.watchdog) clearInterval(this.watchdog);
      this.follower.stop();
      await Promise.all(this.proxies.map((p) => p.close()));
      if (wasLeader) {
        this.leaderRep?.fence();
        await this.broker?.stop();
      }
      this.lock?.release();
      await this.coordinator.close();
      this.logger.info({ node: this.cluster.node }, 'cluster: node stopped');
    });
  }
}
