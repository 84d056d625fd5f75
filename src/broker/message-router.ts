import type { MessageStore, StoredLocation } from '../store/queue-storage.js';
import type { Logger } from '../observe/logger.js';
import { deadLetteredMessage, deathsOf, isDeadLetterCycle, originalRoutingKeys, type DeathReason } from './dead-letter.js';
import { DirectReplyTo } from './direct-reply-to.js';
import type { Exchange } from './exchange.js';
import type { Message } from './message.js';
import { PublishOutcome } from './publish-outcome.js';
import type { Queue } from './queue.js';
import { Enqueued, FLOW_HIGH } from './queue-types.js';
import { Collector } from './route-collector.js';
import { extraRoutingKeys, mayCarryCcOrBcc, withoutBcc } from './routing-headers.js';

/** What routing reads of its vhost (VirtualHost). */
export interface RoutingHost {
  readonly name: string;
  readonly exchanges: ReadonlyMap<string, Exchange>;
  readonly queues: ReadonlyMap<string, Queue>;
  readonly replies: DirectReplyTo;
  /** Persistent messages on durable queues (and paged backlogs) are written here; null: in memory only. */
  readonly log: MessageStore | null;
  readonly logger: Logger | null;
}

/**
 * Moves messages through one vhost's exchanges into its queues: publishes
 * (returning a PublishOutcome) and the republishing of dead messages to
 * their queue's dead-letter exchange. The model's hot path: routing a publish
 * allocates nothing here (one collector and one outcome, reused).
 */
export class MessageRouter {
  private readonly collector = new Collector();
  /** What route() returns: one instance, refilled by every route() (see PublishOutcome). */
  private readonly outcome = new PublishOutcome();
  /** The outcome of the publish being routed right now (null between publishes), for dead-lettering within it. */
  private routing: PublishOutcome | null = null;
  /** Scratch list of the queue ids a log record is written for (one publish). */
  private readonly logIds: number[] = [];
  /**
   * Per nesting level of enqueueAll (a dead-letter is routed in the middle of a
   * route): which of its queues the log record names, reused from publish to publish.
   */
  private readonly logHolders: boolean[][] = [];
  private depth = 0;

  constructor(private readonly host: RoutingHost) {}

  /**
   * Routes a message from `exchange` — following exchange-to-exchange
   * bindings (each exchange visited once), the alternate exchange when nothing
   * matched, CC/BCC routing keys, and direct reply-to addresses — and enqueues
   * it on every queue reached, once. Returns what happened: this router's one
   * outcome instance, valid until the next route() — read it at once.
   */
  route(exchange: Exchange, routingKey: string, message: Message): PublishOutcome {
    const outcome = this.outcome.reset();
    if (DirectReplyTo.isReplyAddress(exchange.name, routingKey)) {
      outcome.routed = this.host.replies.deliver(routingKey, message);
      return outcome;
    }
    let extraKeys: string[] | null = null;
    if (mayCarryCcOrBcc(message)) {
      extraKeys = extraRoutingKeys(message);
      // BCC is for routing only: it never reaches consumers.
      message = withoutBcc(message);
    }
    const c = this.collector;
    c.begin();
    this.collect(exchange, routingKey, extraKeys, message, c);
    // Dead-lettering inside this publish reports congestion here (see republishDead). Not reset
    // on a throw: a later dead-letter then only marks an outcome nobody reads any more.
    this.routing = outcome;
    this.enqueueAll(c.queues, message, outcome);
    this.routing = null;
    const xs = exchange.messageStats;
    xs.publish_in++;
    xs.publish_out += outcome.routed;
    return outcome;
  }

  /**
   * A message died in `queue` (rejected, expired, over the length limit,
   * past the delivery limit): republish it to the queue's dead-letter
   * exchange, unless that would be an automatic cycle back into a queue it
   * already died in. Without a DLX (or with a missing one) it is dropped.
   */
  deadLetter(queue: Queue, message: Message, reason: DeathReason): void {
    try {
      this.republishDead(queue, message, reason);
    } catch (err) {
      // This runs inside someone else's operation (another client's publish pushing the head out
      // of a full queue, a TTL timer, a consumer's reject): a failure is logged and the dead copy
      // dropped, never thrown at a bystander or out of a timer.
      this.host.logger?.error({ err, vhost: this.host.name, queue: queue.name, reason }, 'dead-lettering failed; the message is dropped');
    }
  }

  /**
   * Adds the queues a message reaches from `x` to the collector, as RabbitMQ's
   * rabbit_exchange:route does: every exchange reached (`x`, exchanges bound
   * to it, alternate exchanges) is visited once and routes with the routing
   * key and the CC/BCC keys; an exchange that itself matched nothing (no queue
   * and no exchange binding) passes the message to its alternate exchange.
   * Visiting each exchange once ends AE cycles.
   */
  private collect(x: Exchange, routingKey: string, extraKeys: readonly string[] | null, message: Message, c: Collector): void {
    const start = c.exchanges.length;
    c.add(x);
    for (let i = start; i < c.exchanges.length; i++) this.routeVia(c.exchanges[i]!, routingKey, extraKeys, message, c);
  }

  /** Routes through one exchange; when it matched nothing, its alternate exchange (if any) is visited next. */
  private routeVia(x: Exchange, routingKey: string, extraKeys: readonly string[] | null, message: Message, c: Collector): void {
    const before = c.hits;
    if (x.name === '') {
      // The default exchange: a queue of that name (it has no alternate exchange).
      const queues = this.host.queues;
      const q = queues.get(routingKey);
      if (q) c.add(q);
      if (extraKeys) for (const key of extraKeys) {
        const cq = queues.get(key);
        if (cq) c.add(cq);
      }
      return;
    }
    const router = x.router;
    const headers = router.needsHeaders ? message.properties.headers : undefined;
    router.route(routingKey, headers, c);
    if (extraKeys) for (const key of extraKeys) router.route(key, headers, c);
    if (c.hits === before && x.alternate !== undefined) {
      const ae = this.host.exchanges.get(x.alternate);
      if (ae) c.add(ae);
    }
  }

  /**
   * Logs the message once (if any queue keeps it there) and offers it to each
   * queue, recording what happened in `outcome`. Each queue gets the record
   * only if the log counted a reference for it: dead-lettering while this loop
   * runs can change a later queue's paging, so it is not decided again.
   */
  private enqueueAll(queues: readonly Queue[], message: Message, outcome: PublishOutcome): void {
    const n = queues.length;
    const log = this.host.log;
    const holders = (this.logHolders[this.depth] ??= []);
    const record = log !== null && n > 0 ? this.logMessage(log, message, queues, holders) : null;
    if (record !== null) outcome.durableWrite = record.persistent;
    this.depth++;
    try {
      for (let i = 0; i < n; i++) {
        const q = queues[i]!;
        if (q.enqueue(message, record !== null && holders[i] ? record : null) === Enqueued.Accepted) {
          outcome.routed++;
          q.messageStats.publish++;
        } else outcome.rejected = true;
        if (outcome.congested === null && q.messageCount > FLOW_HIGH && q.congested) outcome.congested = q;
      }
    } finally {
      this.depth--;
    }
    if (outcome.congested === null && log?.behind) outcome.congested = log;
  }

  /**
   * Writes the message once to the log for every queue that must hold it
   * there: durable queues when it is persistent, and any queue paging its
   * backlog to disk (so that backlog stays in order). Returns the record (null:
   * no queue keeps one); `holders[i]` says whether queues[i] holds it.
   */
  private logMessage(log: MessageStore, message: Message, queues: readonly Queue[], holders: boolean[]): StoredLocation | null {
    const persistent = message.persistent;
    const ids = this.logIds;
    while (ids.length > 0) ids.pop(); // cheaper than `length = 0` once per publish (see Collector.begin)
    let durable = false;
    for (let i = 0; i < queues.length; i++) {
      const q = queues[i]!;
      const storage = q.storage;
      const keep = storage !== null && persistent && storage.durable;
      const holds = storage !== null && (keep || q.paging);
      holders[i] = holds;
      if (holds) ids.push(storage.id);
      durable ||= keep;
    }
    if (ids.length === 0) return null;
    const ttl = message.ttl;
    // The record is "persistent" (recovered, confirmed after fdatasync) only when a durable queue keeps it.
    return log.publish(message.exchange, message.routingKey, message.header, message.body, message.bodySize, ids, durable, Date.now(), ttl);
  }

  private republishDead(queue: Queue, message: Message, reason: DeathReason): void {
    const dlxName = queue.policy.deadLetterExchange;
    if (dlxName === undefined) return;
    const dlx = this.host.exchanges.get(dlxName);
    if (!dlx) return; // RabbitMQ drops it too (and logs nothing per message)
    const dlrk = queue.policy.deadLetterRoutingKey;
    // Without a dead-letter routing key: the publish's key, its CC keys and its (stripped) BCC keys.
    const keys = dlrk !== undefined ? [dlrk] : message.bccKeys ? [...originalRoutingKeys(message), ...message.bccKeys] : originalRoutingKeys(message);
    // With a dead-letter routing key RabbitMQ also drops the CC header (its keys were the old routing).
    const dead = deadLetteredMessage(message, queue.name, reason, dlxName, keys[0]!, dlrk !== undefined);
    if (dlrk !== undefined) dead.bccKeys = null;
    const deaths = deathsOf(dead.properties.headers);
    const c = new Collector(); // not the shared one: this can run in the middle of a route()
    c.begin();
    this.collect(dlx, keys[0]!, keys.length > 1 ? keys.slice(1) : null, dead, c);
    const targets = c.queues.filter((q) => !isDeadLetterCycle(q.name, deaths));
    if (targets.length === 0) return;
    // An outcome of its own (dead-lettering nests: a DLQ over its limit dead-letters in turn). A
    // dead-letter publish has no publisher to confirm to, so a DLQ refusing the copy never turns
    // the publish being routed (if any) into a nack; but that publisher is what fills the DLQ, so
    // a congested one (or the log falling behind) pauses it as a congested queue of its own would.
    const outcome = new PublishOutcome();
    this.enqueueAll(targets, dead, outcome);
    const publishing = this.routing;
    if (publishing !== null && publishing.congested === null) publishing.congested = outcome.congested;
  }
}
