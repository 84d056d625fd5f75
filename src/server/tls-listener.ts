/**
 * The amqps listener (RabbitMQ's ssl_listeners): Node's `tls`, TLS 1.2 and
 * 1.3, optional client certificates (verify_peer / fail_if_no_peer_cert).
 * Certificate files are re-read by `reload()` (SIGHUP) without dropping a
 * connection: only new handshakes use the new context. Failed handshakes —
 * plaintext AMQP on this port included — are logged at warn and cost
 * nothing else.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../observe/logger.js';
import type { TlsSnapshot } from './snapshot.js';
import { listenTcpGuarded } from '../observe/listen.js';

export interface TlsSettings {
  cert: string;
  key: string;
  ca: string | undefined;
  /** Ask clients for a certificate and verify the one they send (verify_peer). */
  verifyPeer: boolean;
  /** Refuse clients that send no certificate (fail_if_no_peer_cert; implies verifyPeer). */
  failIfNoPeerCert: boolean;
  handshakeTimeout: number;
}

export class TlsConfigError extends Error {}

function readContext(s: TlsSettings): SecureContextOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new TlsConfigError(`cannot read TLS ${what} ${path}: ${(err as Error).message}`);
    }
  };
  return { cert: read('certificate', s.cert), key: read('key', s.key), ...(s.ca ? { ca: read('CA bundle', s.ca) } : {}) };
}

export class TlsListener {
  private readonly server: TlsServer;

  constructor(private readonly settings: TlsSettings, private readonly logger: Logger, onSocket: (socket: TLSSocket) => void) {
    const verify = settings.verifyPeer || settings.failIfNoPeerCert;
    let context: SecureContextOptions;
    try {
      context = readContext(settings);
    } catch (err) {
      throw err instanceof TlsConfigError ? err : new TlsConfigError((err as Error).message);
    }
    this.server = createServer({
      ...context,
      minVersion: 'TLSv1.2',
      requestCert: verify,
      // With fail_if_no_peer_cert Node refuses a missing or unverifiable certificate in the
      // handshake; with verify_peer alone a missing one is fine and a bad one is refused below.
      rejectUnauthorized: settings.failIfNoPeerCert,
      handshakeTimeout: settings.handshakeTimeout,
      noDelay: true,
    }, (socket) => {
      if (verify && !socket.authorized && hasPeerCertificate(socket)) {
        this.logger.warn({ peer: peerOf(socket), reason: String(socket.authorizationError) }, 'TLS client certificate refused');
        socket.destroy();
        return;
      }
      onSocket(socket);
    });
    this.server.on('tlsClientError', (err, socket) => {
      this.logger.warn({ peer: peerOf(socket), err: err.message }, 'TLS handshake failed');
    });
  }

  listen(port: number, host: string | undefined): Promise<AddressInfo> {
    return listenTcpGuarded(this.server, port, host, this.logger, 'amqps listener');
  }

  /** Re-reads the certificate, key and CA files; open connections keep theirs. Throws (keeping the old context) if a file is bad. */
  reload(): void {
    const context = readContext(this.settings);
    this.server.setSecureContext({ ...context, minVersion: 'TLSv1.2' });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function hasPeerCertificate(socket: TLSSocket): boolean {
  const cert = socket.getPeerCertificate();
  return cert !== null && Object.keys(cert).length > 0;
}

function peerOf(socket: { remoteAddress?: string; remotePort?: number }): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

/** The verified client certificate's subject CN (RabbitMQ's rabbitmq_auth_mechanism_ssl default), or null. */
export function verifiedPeerName(socket: TLSSocket): string | null {
  if (!socket.authorized) return null;
  const cn = socket.getPeerCertificate().subject?.CN;
  if (Array.isArray(cn)) return cn[0] ?? null;
  return typeof cn === 'string' && cn !== '' ? cn : null;
}

/** "CN=x,O=y" from a certificate name object. */
function distinguishedName(name: Record<string, string | string[]> | undefined): string | null {
  if (!name) return null;
  const parts = Object.entries(name).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`);
  return parts.length > 0 ? parts.join(',') : null;
}

/** The TLS facts of a connection for the read side (management API's ssl_* fields). */
export function tlsSnapshot(socket: TLSSocket): TlsSnapshot {
  const cert = socket.getPeerCertificate();
  const hasCert = cert !== null && Object.keys(cert).length > 0;
  return {
    protocol: (socket.getProtocol() ?? '').toLowerCase(),
    cipher: socket.getCipher()?.name ?? '',
    peerCertSubject: hasCert ? distinguishedName(cert.subject as unknown as Record<string, string>) : null,
    peerCertIssuer: hasCert ? distinguishedName(cert.issuer as unknown as Record<string, string>) : null,
    peerCertValidity: hasCert ? `${cert.valid_from} - ${cert.valid_to}` : null,
  };
}
