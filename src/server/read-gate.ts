import type { Socket } from 'node:net';
import type { FlowSource, FlowWaiter } from '../broker/queue.js';
import { guarded } from '../observe/guard.js';
import type { Logger } from '../observe/logger.js';

/** Longest a flow-controlled publisher waits before it is read again. */
const FLOW_PAUSE_MAX = 50;

/** What a channel holding frames behind a reply that waits for durability (durable-replies.ts) needs of the gate. */
export interface HeldInputGate {
  /** Flow control or a resource alarm stops this publisher: held frames wait too. */
  readonly publishingPaused: boolean;
  /** Too many frames are held behind a waiting reply (`on`), or no longer: counted per holder. */
  holdBack(on: boolean): void;
  /** `resume()` on a later turn of the event loop, once publishingPaused is false again. */
  whenPublishing(resume: () => void): void;
}

/**
 * Whether a connection's socket is read. Four independent reasons stop
 * reading it — a resource alarm blocking a publisher, a client that does not
 * read its own output (backlog), flow control from a congested queue or a log
 * behind on writes, and a channel holding too many frames behind a reply
 * that waits for durability — and the socket is read again only once none holds.
 */
export class ReadGate implements FlowWaiter, HeldInputGate {
  /** Blocked by a resource alarm (it published while one was in force). */
  private alarmBlocked = false;
  /** connection.blocked was sent (the client has the capability): connection.unblocked is owed. */
  private blockedNotified = false;
  /** The client does not read: INPUT_PAUSE_BACKLOG bytes wait in the socket buffer. */
  private backlog = false;
  /** Flow control: a queue this connection publishes to is congested. */
  private flowPaused = false;
  private flowTimer: NodeJS.Timeout | null = null;
  /** Channels holding too many frames behind a waiting reply (see DurableReplies). */
  private heldBack = 0;
  /** Held frames that wait for publishingPaused to end. */
  private publishingWaiters: (() => void)[] = [];
  /** socket.pause() is in effect (for any reason above). */
  private paused = false;
  /** The connection is gone: the socket is read (and discarded) to its end. */
  private released = false;

  constructor(
    private readonly socket: Socket,
    private readonly logger: Logger,
    private readonly connId: number,
  ) {}

  /** Blocked by a resource alarm. */
  get blocked(): boolean {
    return this.alarmBlocked;
  }

  /** Paused because the client does not read its output. */
  get backlogged(): boolean {
    return this.backlog;
  }

  /** Paused by flow control. */
  get throttled(): boolean {
    return this.flowPaused;
  }

  /** Paused because a channel holds too many frames behind a waiting reply. */
  get holdingBack(): boolean {
    return this.heldBack > 0;
  }

  get publishingPaused(): boolean {
    return this.flowPaused || this.alarmBlocked;
  }

  holdBack(on: boolean): void {
    this.heldBack += on ? 1 : -1;
    this.update();
  }

  whenPublishing(resume: () => void): void {
    this.publishingWaiters.push(resume);
    this.update();
  }

  /** The socket is not being read (for any reason). */
  get readingPaused(): boolean {
    return this.paused;
  }

  /** A resource alarm blocks this publisher; `notified`: it was sent connection.blocked. */
  block(notified: boolean): void {
    this.alarmBlocked = true;
    this.blockedNotified = notified;
    this.update();
  }

  /** The alarm block is lifted; returns whether connection.unblocked is owed. */
  unblock(): boolean {
    const owed = this.blockedNotified;
    this.alarmBlocked = false;
    this.blockedNotified = false;
    this.update();
    return owed;
  }

  /** The connection is closing: read it again (its close-ok must arrive), owing nothing. */
  liftBlockForClose(): void {
    if (!this.alarmBlocked) return;
    this.alarmBlocked = false;
    this.update();
  }

  setBacklogged(backlogged: boolean): void {
    if (this.backlog === backlogged) return;
    this.backlog = backlogged;
    this.update();
  }

  /**
   * Flow control: stop reading until `source` catches up, or FLOW_PAUSE_MAX
   * ms pass (so a slow but steady consumer slows a publisher down without
   * stopping it).
   */
  throttle(source: FlowSource): void {
    if (this.flowPaused || this.released) return;
    this.flowPaused = true;
    source.addFlowWaiter(this);
    this.flowTimer = setTimeout(guarded(this.logger, 'resuming a throttled publisher', { conn: this.connId }, () => this.flowResumed()), FLOW_PAUSE_MAX);
    this.update();
  }

  flowResumed(): void {
    if (!this.flowPaused) return;
    this.flowPaused = false;
    if (this.flowTimer) clearTimeout(this.flowTimer);
    this.flowTimer = null;
    this.update();
  }

  /**
   * The connection is gone. A socket left paused keeps unread bytes in the
   * kernel, and closing it then sends a reset (which can destroy replies the
   * client has not read yet): read, and discard, to the end.
   */
  release(): void {
    this.released = true;
    this.publishingWaiters = [];
    this.update();
    if (this.flowTimer) clearTimeout(this.flowTimer);
  }

  private update(): void {
    if (this.publishingWaiters.length > 0 && !this.publishingPaused) {
      // Not now: the caller may be a queue telling its flow waiters, which a held publish would re-enter.
      const waiters = this.publishingWaiters;
      this.publishingWaiters = [];
      setImmediate(guarded(this.logger, 'handling frames held behind a reply', { conn: this.connId }, () => {
        for (const resume of waiters) resume();
      }));
    }
    const pause = (this.alarmBlocked || this.backlog || this.flowPaused || this.heldBack > 0) && !this.released;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }
}
