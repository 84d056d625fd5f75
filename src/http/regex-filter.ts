import { Script, createContext, type Context } from 'node:vm';
import { badRequest } from './errors.js';

/**
 * The list filter's `use_regex=true` (RabbitMQ: re:run with `caseless`),
 * with a time budget. JavaScript's backtracking engine can take exponential
 * time on patterns like `(a+)+$` and cannot be interrupted from the outside
 * once a match is running — except by V8's execution watchdog, which
 * `vm`'s `timeout` arms. So the matching loop runs as a script with a
 * timeout: a pattern that needs more than the budget for the whole list is
 * stopped, answered 400, and the event loop was never held longer than
 * the budget. (RabbitMQ's PCRE gives up per item at its match limit and
 * calls the item a non-match; a clear error is more useful than a silently
 * shorter list.)
 *
 * Why not re2 (the linear-time engine): its npm package is a native addon
 * built with node-gyp at install time (minutes, a compiler on every machine
 * that installs Warren); re2-wasm never frees compiled patterns and aborts
 * the process once its 16 MB heap is full; checkers such as safe-regex2
 * let `(a|a)*$` through. The watchdog bounds any pattern.
 */

/** Longest time one list filter may spend matching. Ordinary patterns over 10,000 names take a few ms. */
export const REGEX_BUDGET_MS = 100;

/** The values the matching script reads, set before each run (one context, made once). */
interface FilterSandbox {
  pattern: string;
  names: readonly (string | null)[];
}

let sandbox: (FilterSandbox & Context) | null = null;
let matcher: Script | null = null;

function prepared(): { sandbox: FilterSandbox & Context; matcher: Script } {
  if (sandbox === null || matcher === null) {
    sandbox = createContext({ pattern: '', names: [] }) as FilterSandbox & Context;
    matcher = new Script(
      `(() => { const re = new RegExp(pattern, 'i'); const hits = [];
        for (let i = 0; i < names.length; i++) { const n = names[i]; if (typeof n === 'string' && re.test(n)) hits.push(i); }
        return hits; })()`,
      { filename: 'warren-list-regex-filter' },
    );
  }
  return { sandbox, matcher };
}

/**
 * The indices of `names` that `pattern` matches (case-insensitive,
 * unanchored). An invalid pattern, or one that takes longer than `budgetMs`
 * over the whole list, is a 400 bad_request.
 */
export function regexMatches(pattern: string, names: readonly (string | null)[], budgetMs = REGEX_BUDGET_MS): number[] {
  try {
    new RegExp(pattern, 'i'); // compiling is linear; a syntax error is reported here, in this realm
  } catch {
    throw badRequest(`invalid regular expression: ${pattern}`);
  }
  const { sandbox: s, matcher: m } = prepared();
  s.pattern = pattern;
  s.names = names;
  try {
    return [...(m.runInContext(s, { timeout: budgetMs }) as number[])];
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
      throw badRequest(`regular expression too expensive to match: ${pattern} (gave up after ${budgetMs} ms)`);
    }
    throw err;
  } finally {
    s.names = []; // the list is not kept alive between requests
  }
}
