/**
 * The leader's side of replication. It is the store's ReplicationSink (every
 * file change becomes a numbered frame to each follower) and its
 * DurabilityGate (a confirm waits until every in-sync follower acked the
 * frame number current when it asked), and it keeps the in-sync set (ISR):
 *
 * - a follower joins by authenticating (HMAC of a challenge with the shared
 *   secret) and sending its file index; it is sent what differs (streamed
 *   asynchronously while the leader keeps serving, see catch-up.ts), then a Mark;
 *   once it acks the Mark it is added to the ISR — in etcd first, then here;
 * - a follower in the ISR that is silent for `isrTimeout` ms (or disconnects)
 *   is removed — in etcd first: until etcd has the smaller set, confirms
 *   still wait for it;
 * - nothing is released while the node's etcd lease is not fresh or after
 *   `fence()` (leadership lost).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../observe/logger.js';
import { guarded, runGuarded } from '../observe/guard.js';
import type { DurabilityGate, ReplicationSink, StoreReplication } from '../store/replication.js';
import { sendCatchUp } from './catch-up.js';
import { replicatedPath } from './file-index.js';
import { deleteFields, frame, FrameDecoder, FrameType, seqFields, writeFields, type Hello } from './wire.js';

export interface FollowerStatus {
  node: string;
  connected: boolean;
  inSync: boolean;
  /** Frames the follower has not acknowledged. */
  lagFrames: number;
  /** Bytes sent that the follower has not acknowledged. */
  lagBytes: number;
  /** Seconds since the oldest unacknowledged frame was sent (0 when none). */
  lagSeconds: number;
}

interface Follower {
  node: string;
  socket: Socket | null;
  acked: number;
  lastHeard: number;
  /** Seq of the Mark ending its catch-up (joins the ISR once acked). */
  caughtUpAt: number;
  /** (seq, bytes, sentAt) of frames not yet acked, for lag. */
  inflight: { seq: number; bytes: number; at: number }[];
  /** Live frames held back while the catch-up streams (null: none is running). */
  queued: Buffer[][] | null;
}

export interface LeaderReplicationOptions {
  dataDir: string;
  node: string;
  secret: string;
  isrTimeout: number;
  logger: Logger;
  /** Whether the lease is fresh enough to confirm. */
  leaseFresh: () => boolean;
  /** Stores the ISR (leader first) conditioned on leadership; false when not leader any more. */
  writeIsr: (members: string[]) => Promise<boolean>;
  /** Leadership lost (a fenced ISR write). */
  onNotLeader: () => void;
}

export class LeaderReplication implements ReplicationSink, DurabilityGate {
  private seq = 0;
  private readonly followers = new Map<string, Follower>();
  /** Followers in the ISR as etcd has it. */
  private readonly isr = new Set<string>();
  /**
   * Followers whose addition to the ISR has been sent to etcd and not yet answered.
   * Once etcd has it they may win an election, so confirms wait for them from the
   * moment the write is sent.
   */
  private readonly joining = new Set<string>();
  private waiting: { target: number; done: () => void }[] = [];
  private server: Server | null = null;
  private fenced = false;
  private timer: NodeJS.Timeout | null = null;
  private isrWrite: Promise<void> = Promise.resolve();

  /** The ISR is stored (with this node as leader): until then nothing is confirmed. */
  private ready = false;

  /** `previousIsr`: the followers the previous ISR named; confirms wait for them until they time out. */
  constructor(previousIsr: string[], private readonly o: LeaderReplicationOptions) {
    const now = Date.now();
    for (const name of previousIsr) {
      if (name === o.node) continue;
      this.followers.set(name, { node: name, socket: null, acked: 0, lastHeard: now, caughtUpAt: Infinity, inflight: [], queued: null });
      this.isr.add(name);
    }
  }

  get replication(): StoreReplication {
    return { sink: this, gate: this };
  }

  /** Stores the ISR (this node first), then listens for followers. */
  async start(port: number, host: string): Promise<void> {
    if (!(await this.o.writeIsr([this.o.node, ...this.isr]))) throw new Error('lost leadership before serving');
    this.ready = true;
    const now = Date.now();
    for (const f of this.followers.values()) f.lastHeard = now;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.o.logger.error({ err }, 'replication listener error'));
    this.timer = setInterval(guarded(this.o.logger, 'replication tick', {}, () => this.tick()), 250);
  }

  // ------------------------------------------------------------------ sink

  appended(path: string, offset: number, chunks: readonly Buffer[]): void {
    const rel = replicatedPath(this.o.dataDir, path);
    if (rel === null) return;
    // One buffer per append (a batch of records): one checksum pass and one socket write per
    // follower instead of two per record. The copy is cheaper than thousands of small writes.
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.broadcast(frame(FrameType.Write, writeFields(++this.seq, offset, -1, rel), [data]), data.length);
  }

  deleted(path: string): void {
    const rel = replicatedPath(this.o.dataDir, path);
    if (rel !== null) this.broadcast(frame(FrameType.Delete, deleteFields(++this.seq, rel)), 0);
  }

  rewritten(path: string): void {
    const rel = replicatedPath(this.o.dataDir, path);
    if (rel === null) return;
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch {
      return this.deleted(path);
    }
    this.broadcast(frame(FrameType.Write, writeFields(++this.seq, 0, data.length, rel), [data]), data.length);
  }

  private broadcast(parts: Buffer[], bytes: number): void {
    const now = Date.now();
    for (const f of this.followers.values()) {
      if (!f.socket) continue;
      if (f.queued) f.queued.push(parts);
      else this.send(f.socket, parts);
      f.inflight.push({ seq: this.seq, bytes, at: now });
    }
  }

  private send(socket: Socket, parts: Buffer[]): void {
    socket.cork();
    // (A zero-length write is skipped: on a corked socket it can reorder the frame's bytes.)
    for (const p of parts) if (p.length > 0) socket.write(p);
    socket.uncork();
  }

  // ------------------------------------------------------------------ gate

  whenReplicated(done: () => void): void {
    const target = this.seq;
    if (this.waiting.length === 0 && this.releasable(target)) return done();
    this.waiting.push({ target, done });
  }

  private releasable(target: number): boolean {
    if (!this.ready || this.fenced || !this.o.leaseFresh()) return false;
    for (const name of this.isr) {
      const f = this.followers.get(name);
      if (!f || f.acked < target) return false;
    }
    for (const name of this.joining) {
      const f = this.followers.get(name);
      if (!f || f.acked < target) return false;
    }
    return true;
  }

  /** Releases every waiter whose frames every in-sync follower has (in order). */
  check(): void {
    let k = 0;
    while (k < this.waiting.length && this.releasable(this.waiting[k]!.target)) k++;
    if (k === 0) return;
    const ready = this.waiting.slice(0, k);
    this.waiting = this.waiting.slice(k);
    for (const w of ready) {
      try {
        w.done();
      } catch (err) {
        this.o.logger.error({ err }, 'confirming after replication');
      }
    }
  }

  // ------------------------------------------------------------------ followers

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const challenge = randomBytes(32);
    const decoder = new FrameDecoder();
    let follower: Follower | null = null;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.send(socket, frame(FrameType.Challenge, challenge));
    socket.on('data', (data) => {
      try {
        for (const f of decoder.push(data)) {
          if (!follower) {
            if (f.type !== FrameType.Hello) throw new Error('expected hello');
            follower = this.hello(socket, challenge, JSON.parse(f.body.toString()) as Hello, peer);
            if (!follower) return;
          } else if (f.type === FrameType.Ack) this.acked(follower, f.body.readDoubleBE(0));
        }
      } catch (err) {
        this.o.logger.warn({ peer, node: follower?.node, err: (err as Error).message }, 'replication: dropping a follower connection');
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', guarded(this.o.logger, 'replication: releasing a follower connection', { peer }, () => {
      if (follower && follower.socket === socket) this.disconnected(follower);
    }));
  }

  private hello(socket: Socket, challenge: Buffer, hello: Hello, peer: string): Follower | null {
    const expected = createHmac('sha256', this.o.secret).update(challenge).digest();
    const given = Buffer.from(String(hello.mac), 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.o.logger.warn({ peer, node: hello.node }, 'replication: follower refused (wrong cluster secret)');
      this.send(socket, frame(FrameType.Refused, Buffer.from('wrong cluster secret')));
      socket.end();
      return null;
    }
    const node = String(hello.node);
    let f = this.followers.get(node);
    if (f?.socket) f.socket.destroy();
    f ??= { node, socket: null, acked: 0, lastHeard: Date.now(), caughtUpAt: Infinity, inflight: [], queued: null };
    this.followers.set(node, f);
    f.socket = socket;
    f.inflight = [];
    f.lastHeard = Date.now();
    f.caughtUpAt = Infinity;
    this.o.logger.info({ node, peer }, 'replication: follower connected, catching up');
    this.catchUp(f, socket, hello.index ?? {});
    return f;
  }

  /**
   * Streams what the follower lacks (asynchronously, see catch-up.ts) while
   * live changes queue for it; then the queue, then a Mark: once that is
   * acked the follower joins the ISR.
   */
  private catchUp(f: Follower, socket: Socket, index: Hello['index']): void {
    const started = Date.now();
    const queued: Buffer[][] = [];
    f.queued = queued;
    sendCatchUp(socket, this.o.dataDir, index, this.seq).then(
      ({ bytes, files }) => {
        if (f.socket !== socket || this.fenced) return;
        runGuarded(this.o.logger, 'replication: ending a catch-up', { node: f.node }, () => {
          f.queued = null;
          for (const parts of queued) this.send(socket, parts);
          // The Mark gets a number of its own: the catch-up frames carry the number current when it
          // began, so an ack of that number (sent after the first chunk applied) proves nothing; only
          // an ack of the Mark's number, which the follower can send only after everything before it,
          // does. Broadcast, so in-sync followers acknowledge that number too (no confirm waits for a heartbeat).
          f.caughtUpAt = this.seq + 1;
          f.inflight.push({ seq: f.caughtUpAt, bytes, at: Date.now() });
          this.broadcast(frame(FrameType.Mark, seqFields(++this.seq)), 0);
          this.o.logger.info({ node: f.node, bytes, files, liveFrames: queued.length, ms: Date.now() - started }, 'replication: catch-up sent');
        });
      },
      (err: unknown) => {
        if (f.socket !== socket) return;
        this.o.logger.warn({ node: f.node, err: (err as Error).message }, 'replication: catch-up failed; dropping the follower connection');
        socket.destroy();
      },
    );
  }

  /**
   * Acks before the one of the Mark ending a catch-up only show the follower is alive: it may
   * hold a fraction of the catch-up, so they neither release confirms nor let it join the ISR.
   */
  private acked(f: Follower, seq: number): void {
    f.lastHeard = Date.now();
    if (seq >= f.caughtUpAt && seq > f.acked) f.acked = seq;
    while (f.inflight.length > 0 && f.inflight[0]!.seq <= f.acked) f.inflight.shift();
    if (!this.isr.has(f.node) && f.acked >= f.caughtUpAt) this.changeIsr(f.node, true);
    this.check();
  }

  private disconnected(f: Follower): void {
    f.socket = null;
    f.queued = null;
    f.caughtUpAt = Infinity;
    f.inflight = [];
    if (!this.fenced) this.o.logger.warn({ node: f.node }, 'replication: follower disconnected');
    if (this.isr.has(f.node) || this.joining.has(f.node)) this.changeIsr(f.node, false);
  }

  /** Silent ISR members are removed; heartbeats (Marks) keep the others talking. */
  private tick(): void {
    const now = Date.now();
    const mark = frame(FrameType.Mark, seqFields(this.seq));
    for (const f of this.followers.values()) {
      if (f.socket && f.caughtUpAt !== Infinity) this.send(f.socket, mark);
      if (this.isr.has(f.node) && now - f.lastHeard > this.o.isrTimeout) {
        this.o.logger.warn({ node: f.node, silentMs: now - f.lastHeard }, 'replication: follower silent, removing it from the in-sync set');
        f.lastHeard = Infinity; // one removal at a time
        this.changeIsr(f.node, false);
      }
    }
    this.check();
  }

  /** Adds or removes an ISR member: etcd first (conditioned on leadership), then here. Serialised. */
  private changeIsr(node: string, add: boolean): void {
    this.isrWrite = this.isrWrite.then(async () => {
      if (this.fenced || this.isr.has(node) === add) return;
      const members = new Set(this.isr);
      if (add) members.add(node);
      else members.delete(node);
      // From here etcd may hold the larger set (the member may lead next): it gates confirms already.
      if (add) this.joining.add(node);
      for (;;) {
        if (this.fenced) return;
        try {
          if (!(await this.o.writeIsr([this.o.node, ...members]))) {
            this.joining.delete(node);
            this.o.onNotLeader();
            return;
          }
          break;
        } catch (err) {
          // etcd unreachable: confirms keep waiting for this member until the change is stored.
          this.o.logger.warn({ err: (err as Error).message, node }, 'replication: cannot store the in-sync set in etcd; retrying');
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      this.joining.delete(node);
      if (add) this.isr.add(node);
      else {
        this.isr.delete(node);
        const f = this.followers.get(node);
        if (f && f.lastHeard === Infinity) f.lastHeard = Date.now();
      }
      this.o.logger.info({ node, isr: [this.o.node, ...this.isr] }, add ? 'replication: follower in sync' : 'replication: follower removed from the in-sync set');
      this.check();
    });
  }

  status(): FollowerStatus[] {
    const now = Date.now();
    return [...this.followers.values()].map((f) => ({
      node: f.node,
      connected: f.socket !== null,
      inSync: this.isr.has(f.node),
      lagFrames: Math.max(0, this.seq - f.acked),
      lagBytes: f.inflight.reduce((n, x) => n + x.bytes, 0),
      lagSeconds: f.inflight.length > 0 ? (now - f.inflight[0]!.at) / 1000 : 0,
    }));
  }

  get inSync(): string[] {
    return [this.o.node, ...this.isr];
  }

  get isFenced(): boolean {
    return this.fenced;
  }

  /** Leadership is lost: nothing more is confirmed, followers are dropped. */
  fence(): void {
    this.fenced = true;
    this.waiting = [];
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.server?.close();
    for (const f of this.followers.values()) f.socket?.destroy();
  }
}
