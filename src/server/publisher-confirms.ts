import { MethodId, writeMethodFrame } from '../protocol/index.js';
import type { ChannelHost, ConfirmWriter } from './channel-host.js';

/**
 * Publisher confirms of one channel. Publishes are settled (acked or
 * nacked) in any order — a transient message at once, a persistent one after
 * fdatasync — and go out at the connection's next flush, in order, as few
 * frames as possible: one basic.ack with multiple=true per contiguous run.
 */
export class PublisherConfirms implements ConfirmWriter {
  /** Every seq ≤ settledUpTo is settled; those ≥ floor are not yet sent. */
  private settledUpTo = 0;
  private floor = 1;
  /** Settled seqs beyond a gap (waiting for an earlier one), and the settled ones that are nacks. */
  private readonly settledAhead = new Set<number>();
  private readonly nacked = new Set<number>();
  /** The connection will call writeConfirms at its next flush. */
  private queued = false;

  constructor(
    private readonly conn: ChannelHost,
    private readonly channelId: number,
    /** Confirms are written only while the channel is open. */
    private readonly isOpen: () => boolean,
  ) {}

  /** The highest seq below which every publish is settled. */
  get confirmedUpTo(): number {
    return this.settledUpTo;
  }

  /** The first seq not yet sent to the client. */
  get firstUnsent(): number {
    return this.floor;
  }

  /** Publish `seq` is confirmed (ok) or refused. */
  settle(seq: number, ok: boolean): void {
    if (!ok) this.nacked.add(seq);
    if (seq === this.settledUpTo + 1) {
      this.settledUpTo = seq;
      while (this.settledAhead.delete(this.settledUpTo + 1)) this.settledUpTo++;
    } else this.settledAhead.add(seq);
    if (!this.queued && this.settledUpTo >= this.floor) {
      this.queued = true;
      this.conn.confirmsPending(this);
    }
  }

  /** Writes the confirms gathered since the last flush (called by the connection before it writes). */
  writeConfirms(): void {
    this.queued = false;
    const upTo = this.settledUpTo;
    let from = this.floor;
    if (upTo < from || !this.isOpen()) return;
    const w = this.conn.out;
    const id = this.channelId;
    if (this.nacked.size > 0) {
      for (let seq = from; seq <= upTo; seq++) {
        if (!this.nacked.delete(seq)) continue;
        if (seq > from) writeMethodFrame(w, id, { id: MethodId.BasicAck, args: { deliveryTag: seq - 1, multiple: seq - 1 > from } });
        writeMethodFrame(w, id, { id: MethodId.BasicNack, args: { deliveryTag: seq, multiple: false, requeue: false } });
        from = seq + 1;
      }
    }
    if (from <= upTo) writeMethodFrame(w, id, { id: MethodId.BasicAck, args: { deliveryTag: upTo, multiple: upTo > from } });
    this.floor = upTo + 1;
  }
}
