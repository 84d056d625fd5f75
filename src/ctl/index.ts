/**
 * `warren ctl <command>`: rabbitmqctl's commands, as a client of the
 * management API. On the broker's machine it uses the control socket in the
 * data directory (no password: the socket is the broker user's alone);
 * elsewhere, or with --url, the HTTP API with Basic credentials.
 * Exit codes: 0 done, 1 the broker refused or could not be reached, 2 bad usage.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CONTROL_SOCKET_NAME, MAX_SOCKET_PATH } from '../http/control-socket.js';
import { ApiClient, CtlError, usageError, type Target } from './client.js';
import { ADMIN_COMMANDS } from './commands-admin.js';
import { LIST_COMMANDS } from './commands-list.js';
import { OPS_COMMANDS } from './commands-ops.js';
import { POLICY_COMMANDS } from './commands-policies.js';
import { CLUSTER_COMMANDS } from './commands-cluster.js';
import type { Command, CtlContext } from './command.js';
import type { Formatter, Output } from './output.js';

export const COMMANDS: readonly Command[] = [...OPS_COMMANDS.slice(0, 1), ...LIST_COMMANDS, ...POLICY_COMMANDS.slice(0, 1), ...ADMIN_COMMANDS, ...POLICY_COMMANDS.slice(1), ...OPS_COMMANDS.slice(1), ...CLUSTER_COMMANDS];

const DEFAULT_URL = 'http://localhost:15672';
const DEFAULT_DATA_DIR = './data';

/** Options of every command, then the ones only some commands take (checked per command). */
const GLOBAL_OPTIONS = {
  vhost: { type: 'string', short: 'p' },
  formatter: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'no-table-headers': { type: 'boolean' },
  url: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const COMMAND_OPTIONS = {
  description: { type: 'string' },
  tags: { type: 'string' },
  'if-empty': { type: 'boolean', short: 'e' },
  'if-unused': { type: 'boolean', short: 'u' },
  priority: { type: 'string' },
  'apply-to': { type: 'string' },
} as const;

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length + 1 + c.args.length));
  return `Usage: warren ctl [options] <command> [arguments]

Commands (rabbitmqctl's names and arguments; warren ctl <command> --help for one):
${COMMANDS.map((c) => `  ${`${c.name} ${c.args}`.padEnd(Math.min(width, 40))}  ${c.summary}`).join('\n')}

Options:
  -p, --vhost <vhost>     virtual host of the command (default /)
  --formatter table|json  output format (default table: tab-separated, with a header row)
  -q, --quiet             no informational lines ("Listing queues for vhost / ...")
  --no-table-headers      table rows without the header row
  --data-dir <path>       the broker's data directory: its control socket (${CONTROL_SOCKET_NAME}) needs no
                          password (default ./data, used when the socket is there)
  --url <url>             the management API instead (env WARREN_CTL_URL; default ${DEFAULT_URL}
                          when there is no control socket)
  --user <name>           management API user (env WARREN_CTL_USER; default guest)
  --password <password>   its password (env WARREN_CTL_PASSWORD; default guest)
  -h, --help              this help
`;
}

function commandUsage(c: Command): string {
  const opts = c.options?.length ? ` ${c.options.map((o) => `[--${o}${(COMMAND_OPTIONS as Record<string, { type: string }>)[o]!.type === 'string' ? ' <value>' : ''}]`).join(' ')}` : '';
  const details = c.details ? `${c.details.replace(/^/gm, '  ')}\n` : '';
  return `Usage: warren ctl [-p <vhost>] ${c.name}${opts}${c.args ? ` ${c.args}` : ''}\n  ${c.summary}\n${details}`;
}

/** Where to send requests: --url (or WARREN_CTL_URL) → HTTP; else the data directory's control socket when there; else the default URL. */
function chooseTarget(values: Record<string, unknown>, env: NodeJS.ProcessEnv): Target {
  const urlText = (values.url as string | undefined) ?? (env.WARREN_CTL_URL || undefined);
  const user = (values.user as string | undefined) ?? (env.WARREN_CTL_USER || 'guest');
  const password = (values.password as string | undefined) ?? env.WARREN_CTL_PASSWORD ?? 'guest';
  const http = (text: string): Target => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw usageError(`--url expects an http(s) URL such as ${DEFAULT_URL}, got '${text}'`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url expects an http(s) URL such as ${DEFAULT_URL}, got '${text}'`);
    return { kind: 'http', url, user, password };
  };
  if (urlText !== undefined) return http(urlText);
  const dataDir = values['data-dir'] as string | undefined;
  const socket = join(dataDir ?? DEFAULT_DATA_DIR, CONTROL_SOCKET_NAME);
  // An explicit --data-dir means that broker: no quiet fallback to another one over HTTP.
  if (dataDir !== undefined || existsSync(socket)) {
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) throw new CtlError(`the control socket path ${socket} is too long for a Unix socket: use --url`);
    return { kind: 'socket', path: socket };
  }
  return http(DEFAULT_URL);
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

/** Runs one ctl invocation; returns the exit code (errors are printed here, one line). */
export async function ctlMain(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const write = (s: string): void => void process.stdout.write(s);
  // `warren ctl list_queues | head`: a reader that stops early is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`warren ctl: cannot write the output: ${err.message}\n`);
    process.exit(1);
  });
  try {
    return await run(argv, env, write);
  } catch (err) {
    if (err instanceof CtlError) {
      process.stderr.write(`warren ctl: ${err.message}\n`);
      if (err.exitCode === 2) process.stderr.write(`Try 'warren ctl --help'.\n`);
      return err.exitCode;
    }
    process.stderr.write(`warren ctl: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function run(argv: readonly string[], env: NodeJS.ProcessEnv, write: (s: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], strict: true, allowPositionals: true, options: { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS } });
  } catch (err) {
    // node:util's wording is long; the flag it names is what matters.
    const message = (err as Error).message;
    const unknown = /^Unknown option '([^']+)'/.exec(message);
    throw usageError(unknown ? `unknown option '${unknown[1]}'` : message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const [name, ...args] = parsed.positionals;
  if (name === undefined || name === 'help') {
    if (values.help || name === 'help') {
      write(usage());
      return 0;
    }
    throw usageError('no command given');
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw usageError(`unknown command '${name}'`);
  if (values.help) {
    write(commandUsage(command));
    return 0;
  }
  for (const option of Object.keys(COMMAND_OPTIONS)) {
    if (values[option] !== undefined && !command.options?.includes(option)) throw usageError(`--${option} is not an option of ${command.name}`);
  }
  const [min, max] = command.arity;
  if (args.length < min) throw usageError(`${command.name}: missing argument ${missingArgument(command, args.length)} (usage: warren ctl ${command.name} ${command.args})`);
  if (args.length > max) throw usageError(`${command.name}: unexpected argument '${args[max]}' (usage: warren ctl ${command.name} ${command.args})`.replace(/ \)$/, ')'));
  const formatter = (values.formatter as string | undefined) ?? 'table';
  if (formatter !== 'table' && formatter !== 'json') throw usageError(`--formatter expects table or json, got '${formatter}'`);
  const vhost = values.vhost as string | undefined;
  if (vhost === '') throw usageError('-p/--vhost expects a virtual host name');

  const out: Output = { formatter: formatter as Formatter, quiet: values.quiet === true, tableHeaders: values['no-table-headers'] !== true, write };
  const ctx: CtlContext = { api: new ApiClient(chooseTarget(values, env)), vhost: vhost ?? '/', out, options: values, readStdin };
  await command.run(ctx, args);
  return 0;
}

/** The name of the first missing positional argument, from the command's argument synopsis. */
function missingArgument(command: Command, given: number): string {
  const names = command.args.match(/<[^>]+>/g) ?? [];
  return names[given] ?? names[names.length - 1] ?? 'argument';
}
