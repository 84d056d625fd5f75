import type { Socket } from 'node:net';
import type { FlowSource, FlowWaiter } from '../broker/queue.js';
import { guarded } from '../observe/guard.js';
import type { Logger } from '../observe/logger.js';

/** Longest a flow-controlled publisher waits before it is read again. */
const FLOW_PAUSE_MAX = 50;

/**
 * Whether a connection's socket is read. Three independent reasons stop
 * reading it — a resource alarm blocking a publisher, a client that does not
 * read its own output (backlog), and flow control from a congested queue or
 * a log behind on writes — and the socket is read again only once none holds.
 */
export class ReadGate implements FlowWaiter {
  /** Blocked by a resource alarm (it published while one was in force). */
  private alarmBlocked = false;
  /** connection.blocked was sent (the client has the capability): connection.unblocked is owed. */
  private blockedNotified = false;
  /** The client does not read: INPUT_PAUSE_BACKLOG bytes wait in the socket buffer. */
  private backlog = false;
  /** Flow control: a queue this connection publishes to is congested. */
  private flowPaused = false;
  private flowTimer: NodeJS.Timeout | null = null;
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
    this.update();
    if (this.flowTimer) clearTimeout(this.flowTimer);
  }

  private update(): void {
    const pause = (this.alarmBlocked || this.backlog || this.flowPaused) && !this.released;
    if (pause === this.paused) return;
    this.paused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }
}
