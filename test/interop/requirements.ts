/**
 * Availability of the external clients the interop tests drive.
 *
 * `requireTool('python3', 'import pika', 'python3-pika')` looks for a working
 * interpreter/program and runs the probe. Outside CI a missing tool skips its
 * suite with a console message saying what to install; in CI (env CI set to
 * anything but "" / "0" / "false") the suite is replaced by a failing test, so a
 * CI image without the Debian packages fails loudly instead of going green.
 */
import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

export interface Tool {
  /** What was asked for (e.g. "python3 + pika"). */
  name: string;
  available: boolean;
  /** The executable that passed the probe (absolute path when found under /usr/bin). */
  command: string;
  /** Why it is unavailable (empty when available). */
  reason: string;
  /** What to install. */
  install: string;
}

/** Eval flag per interpreter, so a probe can be a one-line program. */
const EVAL_FLAG: Record<string, string> = { python3: '-c', ruby: '-e', php: '-r', node: '-e', sh: '-c', bash: '-c' };

export const inCI = (): boolean => {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
};

/**
 * Finds `command` and runs `probe` with it: a string is evaluated with the
 * interpreter's eval flag (`python3 -c`, `ruby -e`, `php -r`), an array is
 * passed as arguments (e.g. `['--help']`). The Debian packages install under
 * /usr/bin, and a python3 earlier on PATH (pyenv, a virtualenv) does not see
 * Debian's dist-packages, so /usr/bin/<command> is tried first.
 */
export function requireTool(command: string, probe: string | string[] = ['--version'], install = command): Tool {
  const name = typeof probe === 'string' ? `${command} (${probe})` : command;
  const candidates = command.includes('/') ? [command] : [`/usr/bin/${command}`, command];
  let reason = '';
  for (const candidate of candidates) {
    const args = typeof probe === 'string' ? [EVAL_FLAG[command] ?? '-e', probe] : probe;
    const r = spawnSync(candidate, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.error === undefined && r.status === 0) return { name, available: true, command: candidate, reason: '', install };
    const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ${(r.stderr || r.stdout).trim().split('\n').slice(-1)[0] ?? ''}`;
    reason += `${reason ? '; ' : ''}${candidate}: ${why}`;
  }
  return { name, available: false, command, reason, install };
}

/** All of `tools` must be available; the result names every missing one. */
export function requireAll(...tools: Tool[]): Tool {
  const missing = tools.filter((t) => !t.available);
  return {
    name: tools.map((t) => t.name).join(' + '),
    available: missing.length === 0,
    command: tools[0]?.command ?? '',
    reason: missing.map((t) => `${t.name}: ${t.reason}`).join('; '),
    install: [...new Set(missing.map((t) => t.install))].join(' '),
  };
}

/**
 * `describe` that runs only when `tool` is available. When it is not: in CI a
 * single failing test says what is missing; elsewhere the suite is skipped
 * and a console message says what to install.
 */
export function describeWithTool(title: string, tool: Tool, body: () => void): void {
  if (!tool.available) {
    const message = `${title}: ${tool.name} is not available (${tool.reason}). Install it: apt-get install -y ${tool.install}`;
    if (inCI()) {
      describe(title, () => {
        it(`requires ${tool.name}`, () => {
          throw new Error(`${message} — interop clients are mandatory in CI (see .ci/run)`);
        });
      });
      return;
    }
    console.warn(`[interop] skipping ${message}`);
  }
  describe.skipIf(!tool.available)(title, body);
}
