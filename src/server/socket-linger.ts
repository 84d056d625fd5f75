import type { Socket } from 'node:net';
import { ByteWriter, Constants, MethodId, peekMethodId, writeMethodFrame } from '../protocol/index.js';

/**
 * Sockets of connections that are closed on the AMQP level — Warren sent
 * connection.close-ok — and are left to their clients, as RabbitMQ does: the
 * spec has the peer that receives close-ok close the socket. Ending it first
 * races the client: one that sent several connection.close frames (the Go
 * client closing from several goroutines) read EOF instead of its close-ok.
 * Each socket waits until its client closes it, or until the linger time
 * passes; then it is ended (FIN, after everything written is flushed).
 */
export class SocketLinger {
  private readonly sockets = new Set<Socket>();

  /** Leaves `socket` to its client for up to `ms`, then ends it. */
  hold(socket: Socket, ms: number): void {
    if (socket.destroyed) return;
    this.sockets.add(socket);
    const timer = setTimeout(() => endSocket(socket), ms);
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      this.sockets.delete(socket);
    });
  }

  /** Sockets still waiting for their clients. */
  get size(): number {
    return this.sockets.size;
  }

  /** Broker stop: ends every lingering socket now. */
  endAll(): void {
    for (const s of this.sockets) endSocket(s);
  }
}

/** RabbitMQ's CLOSING_TIMEOUT, in seconds: the longest a closed connection's socket is left to its client. */
const CLOSING_TIMEOUT = 30;

/** How long to leave the socket to the client (RabbitMQ: the heartbeat timeout when below 30 s, else 30 s). */
export function lingerMs(heartbeatSeconds: number): number {
  return (heartbeatSeconds > 0 && heartbeatSeconds < CLOSING_TIMEOUT ? heartbeatSeconds : CLOSING_TIMEOUT) * 1000;
}

/**
 * Ends the socket: FIN once everything written has gone out. A peer that
 * never closes its side would keep it half-open, so it is destroyed after a
 * grace period; the timer goes as soon as the socket closes, so it holds
 * nothing (under churn, thousands of closed connections would pile up).
 */
export function endSocket(socket: Socket, graceMs = 1000): void {
  if (socket.destroyed) return;
  socket.end();
  const grace = setTimeout(() => socket.destroy(), graceMs);
  grace.unref();
  socket.once('close', () => clearTimeout(grace));
}

/** connection.close-ok, encoded once: a lingering connection answers every repeated close with it. */
export const CONNECTION_CLOSE_OK_FRAME: Buffer = (() => {
  const w = new ByteWriter();
  writeMethodFrame(w, 0, { id: MethodId.ConnectionCloseOk, args: {} });
  return Buffer.concat(w.drain());
})();

/**
 * A frame from a lingering connection (our close-ok sent), as RabbitMQ: a
 * repeated connection.close is answered with close-ok again (several threads
 * of one client may each have sent one), the client's close-ok for a close
 * of ours ends the socket (its receiver closes, says the spec), and
 * everything else is discarded. Only the method id is read (peekMethodId):
 * nothing else is decoded.
 */
export function answerLingeringFrame(socket: Socket, type: number, channelId: number, payload: Buffer): void {
  if (type !== Constants.FRAME_METHOD || channelId !== 0) return;
  const ids = peekMethodId(payload);
  if (ids === MethodId.ConnectionClose) {
    if (socket.writable) socket.write(CONNECTION_CLOSE_OK_FRAME);
  } else if (ids === MethodId.ConnectionCloseOk) endSocket(socket);
}
