import type { ApiClient } from './client.js';
import type { Output } from './output.js';

/** Everything a command runs with: the API, the vhost (-p, default "/"), output settings and its own options. */
export interface CtlContext {
  readonly api: ApiClient;
  readonly vhost: string;
  readonly out: Output;
  /** Command-specific options (--priority, --if-empty, --description…), as given. */
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
  /** Reads standard input to its end (import_definitions without a file). */
  readStdin(): Promise<string>;
}

export interface Command {
  readonly name: string;
  /** Positional arguments, rabbitmqctl's names: "<username> <password>"; "[...]" marks optional ones. */
  readonly args: string;
  readonly summary: string;
  /** More for `warren ctl <command> --help` (a list's columns). */
  readonly details?: string;
  /** Fewest and most positional arguments (Infinity: any number). */
  readonly arity: readonly [number, number];
  /** Command-specific options it accepts (long names without "--"). */
  readonly options?: readonly string[];
  run(ctx: CtlContext, args: readonly string[]): Promise<void>;
}
