import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { UserRecord } from '../auth/access-control.js';
import { copyTable } from '../broker/snapshots.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import type { FieldTable } from '../protocol/index.js';
import type { ConnectionInfo } from './connection-info.js';
import { RABBIT_STATE_NAMES, type ConnectionState } from './connection-state.js';
import type { ChannelSnapshot, ConnectionSnapshot } from './snapshot.js';
import { tlsSnapshot } from './tls-listener.js';

/** What the read side reads of a connection (Connection provides it). */
export interface ConnectionFacts {
  readonly id: number;
  readonly peer: string;
  readonly socket: Socket;
  readonly state: ConnectionState;
  readonly user: UserRecord | null;
  readonly vhost: VirtualHost | null;
  readonly clientProperties: FieldTable;
  readonly connectedAt: number;
  readonly heartbeat: number;
  readonly frameMax: number;
  readonly channelMax: number;
  readonly authMechanism: string;
  /** Blocked by a resource alarm. */
  readonly blocked: boolean;
  /** Its socket is not being read (alarm, flow control, or a backlog of replies). */
  readonly readingPaused: boolean;
  /** Output not yet taken by the socket. */
  readonly outboundBytes: number;
  /** Socket reads and (corked) writes, RabbitMQ's recv_cnt / send_cnt. */
  readonly receiveCount: number;
  readonly sendCount: number;
  readonly channelCount: number;
  channelSnapshots(connectionName: string, peerHost: string, peerPort: number): ChannelSnapshot[];
}

/** Read-only facts for the management API and metrics (see snapshot.ts). */
export function connectionSnapshot(c: ConnectionFacts): ConnectionSnapshot {
  const s = c.socket;
  const peerHost = s.remoteAddress ?? '';
  const peerPort = s.remotePort ?? 0;
  const name = `${peerHost}:${peerPort} -> ${s.localAddress ?? ''}:${s.localPort ?? 0}`;
  const state = c.state === 'open' ? (c.blocked ? 'blocked' : 'running') : RABBIT_STATE_NAMES[c.state];
  return {
    id: c.id,
    name,
    peerHost,
    peerPort,
    host: s.localAddress ?? '',
    port: s.localPort ?? 0,
    user: c.user?.name ?? null,
    vhost: c.vhost?.name ?? null,
    state: state === 'handshake' ? 'starting' : state,
    authMechanism: c.authMechanism,
    tls: s instanceof TLSSocket ? tlsSnapshot(s) : null,
    clientProperties: c.clientProperties,
    connectedAt: c.connectedAt,
    heartbeat: c.heartbeat,
    frameMax: c.frameMax,
    channelMax: c.channelMax,
    recvOct: s.bytesRead,
    sendOct: s.bytesWritten,
    recvCnt: c.receiveCount,
    sendCnt: c.sendCount,
    sendPend: s.writableLength,
    channels: c.channelSnapshots(name, peerHost, peerPort),
  };
}

/** The connection as the embedding API's broker.connections() lists it. */
export function connectionInfo(c: ConnectionFacts): ConnectionInfo {
  const name = c.clientProperties['connection_name'];
  const product = c.clientProperties['product'];
  return {
    id: c.id,
    peer: c.peer,
    state: RABBIT_STATE_NAMES[c.state],
    user: c.user?.name ?? null,
    vhost: c.vhost?.name ?? null,
    name: typeof name === 'string' ? name : null,
    clientProduct: typeof product === 'string' ? product : null,
    clientProperties: copyTable(c.clientProperties),
    channels: c.channelCount,
    blocked: c.blocked,
    readingPaused: c.readingPaused,
    outboundBytes: c.outboundBytes,
    heartbeat: c.heartbeat,
    frameMax: c.frameMax,
    channelMax: c.channelMax,
    bytesReceived: c.socket.bytesRead,
    bytesSent: c.socket.bytesWritten,
  };
}
