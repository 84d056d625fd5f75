import { chmodSync, renameSync, rmSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { UserRecord } from '../auth/access-control.js';
import { DEFAULT_HASHING_ALGORITHM } from '../auth/password.js';
import { listenGuarded } from '../observe/listen.js';

/** The control socket's file name in the data directory (`warren ctl` looks for it there). */
export const CONTROL_SOCKET_NAME = 'warren.sock';

/** sun_path holds 108 bytes on Linux, including the terminating NUL (104 on macOS: its bind fails loudly). */
export const MAX_SOCKET_PATH = 107;

/**
 * The identity requests on the control socket act as: an administrator that
 * exists only here (no password, not in the user database). Recognised by
 * reference, so a real user of the same name gains nothing.
 */
export const CONTROL_SOCKET_USER: UserRecord = Object.freeze({
  name: 'warren-ctl',
  passwordHash: '',
  hashingAlgorithm: DEFAULT_HASHING_ALGORITHM,
  tags: Object.freeze(['administrator']),
});

/**
 * The management API on a Unix socket in the data directory, for `warren ctl`
 * on the broker's own machine (as lavinmqctl's): no password, because only the
 * broker's OS user may open it (mode 0600). It is bound under a temporary name,
 * restricted, then renamed into place, so it is never reachable with a looser mode.
 */
export class ControlSocket {
  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, listener: RequestListener): Promise<ControlSocket> {
    // One broker per data directory (its lock is held by now), so one staging name serves.
    const staging = `${path}.tmp`;
    // Longer paths do not fit sockaddr_un, and libuv would silently bind a truncated one.
    if (Buffer.byteLength(staging) > MAX_SOCKET_PATH) throw new Error(`the path ${staging} is longer than a Unix socket path may be (${MAX_SOCKET_PATH} bytes)`);
    rmSync(staging, { force: true });
    const server = createServer(listener);
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.on('clientError', (_err, socket) => socket.destroy());
    // No logger here: a later listener error goes to stderr as JSON (guard's fallback), never a crash.
    await listenGuarded(server, { path: staging }, null, 'control socket');
    try {
      chmodSync(staging, 0o600);
      // Replaces a socket a crashed broker left behind (the data directory's lock says this process owns it).
      renameSync(staging, path);
    } catch (err) {
      server.close();
      rmSync(staging, { force: true });
      throw err;
    }
    return new ControlSocket(server, path);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => {
        rmSync(this.path, { force: true });
        resolve();
      });
      this.server.closeAllConnections();
    });
  }
}
