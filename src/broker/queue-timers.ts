/**
 * A queue's two timers, never one per message: the head's message TTL (the
 * messages behind it are checked when they reach the head) and the x-expires
 * countdown (renewed by every use; paused while the queue has consumers).
 */
import { setLongTimeout, type LongTimeout } from '../observe/long-timer.js';
import type { QueueEntry } from './message.js';

/** What the timers need from their queue. */
export interface TimedQueue {
  readonly deleted: boolean;
  readonly consumerCount: number;
  readonly policy: { readonly expires?: number };
  readonly ready: { peek(): QueueEntry | undefined };
  dropExpired(): void;
  /** x-expires ran out: the queue goes. */
  expire(): void;
  /** `fn` as a timer callback whose failure is logged, never thrown. */
  inBackground(task: string, fn: () => void): () => void;
}

export class QueueTimers {
  /** When the queue was last used (consume, cancel, get, declare). */
  lastUsed = Date.now();
  private ttlTimer: LongTimeout | null = null;
  private ttlTimerAt = 0;
  private expiryTimer: LongTimeout | null = null;

  constructor(private readonly queue: TimedQueue) {}

  /** One timer for the head's expiry (re-armed only when the head expires sooner). */
  armTtl(): void {
    const q = this.queue;
    const at = q.ready.peek()?.expiresAt ?? 0;
    if (at === 0 || q.deleted) return;
    if (this.ttlTimer && this.ttlTimerAt <= at) return;
    this.ttlTimer?.clear();
    this.ttlTimerAt = at;
    this.ttlTimer = setLongTimeout(q.inBackground('message TTL expiry', () => {
      this.ttlTimer = null;
      q.dropExpired();
      this.armTtl();
    }), at - Date.now());
  }

  armExpiry(): void {
    const q = this.queue;
    const expires = q.policy.expires;
    if (expires === undefined) return;
    const wait = this.lastUsed + expires - Date.now();
    this.expiryTimer = setLongTimeout(q.inBackground('queue expiry (x-expires)', () => {
      this.expiryTimer = null;
      if (q.deleted) return;
      if (q.consumerCount > 0) this.lastUsed = Date.now(); // in use: the countdown starts when the last consumer goes
      else if (Date.now() - this.lastUsed >= expires) {
        q.expire();
        return;
      }
      this.armExpiry();
    }), wait);
  }

  /** x-expires changed (a policy): the countdown starts over with the new value. */
  restartExpiry(): void {
    this.expiryTimer?.clear();
    this.expiryTimer = null;
    this.armExpiry();
  }

  clear(): void {
    this.ttlTimer?.clear();
    this.expiryTimer?.clear();
    this.ttlTimer = null;
    this.expiryTimer = null;
  }
}
