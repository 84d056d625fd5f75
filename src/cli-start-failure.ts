/**
 * The CLI's report of a broker that could not start: a fatal log line like
 * every other line the broker writes (JSON, or pretty with --log-pretty),
 * naming the flag that fixes it, plus one line on stderr for whoever reads
 * that instead. Returns the exit code.
 */
import type { BrokerOptions } from './config.js';
import { InvalidOptionError } from './config.js';
import { DefinitionsFormatError } from './admin/definitions-format.js';
import { createLogger } from './observe/logger.js';
import { DataDirLockedError } from './store/lock.js';
import { TlsConfigError } from './server/tls-listener.js';

interface Diagnosis {
  message: string;
  /** What to do about it, naming the flag. */
  hint?: string;
  exitCode: number;
}

/** The flag that sets the port a listen error is about (the AMQP one, or an HTTP listener's). */
function portFlag(port: number | undefined, options: BrokerOptions): string {
  if (port === undefined || port === options.port) return '--port';
  if (options.management && options.management.port === port) return '--management-port';
  if (options.prometheus && options.prometheus.port === port) return '--prometheus-port';
  return '--port';
}

function diagnose(err: unknown, options: BrokerOptions): Diagnosis {
  const e = err as (NodeJS.ErrnoException & { port?: number; address?: string }) | null;
  const code = e?.code;
  const where = `${e?.address ?? options.host ?? '0.0.0.0'}:${e?.port ?? options.port ?? 5672}`;
  const flag = portFlag(e?.port, options);
  if (code === 'EADDRINUSE') {
    return { message: `cannot listen on ${where}: the port is already in use (EADDRINUSE)`, hint: `another broker may be running; choose another port with ${flag}`, exitCode: 1 };
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return { message: `cannot listen on ${where}: permission denied (${code})`, hint: `ports below 1024 need privileges; choose another port with ${flag}`, exitCode: 1 };
  }
  if (code === 'EADDRNOTAVAIL') {
    return { message: `cannot listen on ${where}: no such local address (EADDRNOTAVAIL)`, hint: 'choose an address of this machine with --host', exitCode: 1 };
  }
  if (code === 'ERR_MODULE_NOT_FOUND' && /'etcd3'/.test(e?.message ?? '')) {
    return { message: 'clustering needs the etcd3 package, which is not installed', hint: 'npm install etcd3 (an optional peer dependency of warren), or start without --cluster-etcd', exitCode: 1 };
  }
  if (err instanceof DataDirLockedError) return { message: err.message, hint: 'stop that broker, or give this one another directory with --data-dir', exitCode: 1 };
  // Values the CLI could not check itself (the CLI checks its own flags before starting).
  if (err instanceof InvalidOptionError || err instanceof DefinitionsFormatError || err instanceof TlsConfigError) return { message: err.message, exitCode: 2 };
  return { message: `cannot start: ${err instanceof Error ? err.message : String(err)}`, exitCode: 1 };
}

export function reportStartFailure(err: unknown, options: BrokerOptions): number {
  const { message, hint, exitCode } = diagnose(err, options);
  const logger = createLogger({ level: options.logLevel ?? 'info', pretty: options.logPretty });
  logger.fatal({ err, hint }, message);
  process.stderr.write(`warren: ${message}${hint ? `\nwarren: ${hint}` : ''}\n`);
  return exitCode;
}
