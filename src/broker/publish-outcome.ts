import type { FlowSource } from './queue.js';

/**
 * What routing one message did, in the terms its publisher is answered in:
 * how many queues took it (none: basic.return for a mandatory publish), whether
 * a full queue with x-overflow reject-publish refused it (a nack, and no
 * return), the flow source to pause the publisher on, and whether a durable
 * queue keeps it in the message log (the confirm, or tx.commit-ok, waits for
 * the fsync).
 *
 * Routing is the hot path, so it allocates no outcome per publish: each
 * VirtualHost owns one instance, which `route()` resets, fills and returns.
 * It is valid until the next `route()` on that vhost — the caller reads it at
 * once, before anything else can publish. Dead-lettering, which runs inside a
 * route (a full queue pushing its head out, a TTL of 0), fills an instance of
 * its own, so the publish being routed is never overwritten under its caller.
 * (A plain object rather than bit flags plus a field: the congested source is
 * an object anyway, and named fields read better at every use.)
 */
export class PublishOutcome {
  /** Queues that took the message (a direct reply-to counts as one). */
  routed = 0;
  /** A queue refused it (x-overflow reject-publish or reject-publish-dlx): the publisher gets a nack. */
  rejected = false;
  /** A queue it reached is congested, or the log is behind: pause the publisher on this. */
  congested: FlowSource | null = null;
  /** A durable queue keeps it in the message log: confirm only once that write is fsynced. */
  durableWrite = false;

  /** Ready for the next publish. */
  reset(): this {
    this.routed = 0;
    this.rejected = false;
    this.congested = null;
    this.durableWrite = false;
    return this;
  }
}
