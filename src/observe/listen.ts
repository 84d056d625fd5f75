/**
 * Starting a listener without leaving it able to end the process. A listening
 * server still emits 'error' (an accept failing with ENFILE or ENOBUFS, say);
 * with no listener for it, Node turns that event into an uncaught exception.
 * So the start-up rejection is swapped for a listener that logs at error and
 * keeps the server, which goes on accepting once the cause passes.
 */
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { reportFailure, type ErrorLog } from './guard.js';

/** Where to listen: a TCP port (with an optional host) or a Unix socket path. */
export type ListenTarget = { readonly port: number; readonly host: string | undefined } | { readonly path: string };

/**
 * Listens on `target`; a failure to start rejects. Once listening, later
 * 'error' events are logged as failures of `name` (e.g. "AMQP listener").
 */
export function listenGuarded(server: Server, target: ListenTarget, logger: ErrorLog | null | undefined, name: string): Promise<AddressInfo | string> {
  return new Promise((resolve, reject) => {
    const onStartError = (err: Error): void => reject(err);
    server.once('error', onStartError);
    const onListening = (): void => {
      server.off('error', onStartError);
      server.on('error', (err) => reportFailure(logger, name, { address: server.address() }, err));
      resolve(server.address() as AddressInfo | string);
    };
    if ('path' in target) server.listen(target.path, onListening);
    else server.listen(target.port, target.host, onListening);
  });
}

/** listenGuarded on a TCP port, resolving to the bound address. */
export async function listenTcpGuarded(server: Server, port: number, host: string | undefined, logger: ErrorLog | null | undefined, name: string): Promise<AddressInfo> {
  return (await listenGuarded(server, { port, host }, logger, name)) as AddressInfo;
}
