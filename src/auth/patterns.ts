/**
 * Permission patterns: regular expressions matched unanchored against a
 * resource name (RabbitMQ uses re:run), where "" means "nothing" (^$).
 */

export class PatternError extends Error {}

/** Compiles a permission pattern once; throws PatternError with the regex engine's reason. */
export function compilePattern(pattern: string): RegExp {
  try {
    return new RegExp(pattern === '' ? '^$' : pattern);
  } catch (err) {
    throw new PatternError(`invalid regular expression '${pattern}': ${(err as Error).message}`);
  }
}

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Topic permission patterns may name `{username}` and `{vhost}`: they expand
 * to the (regex-escaped) values, so one rule can give every user its own
 * routing-key subtree.
 */
export function expandTopicPattern(pattern: string, username: string, vhost: string): string {
  return pattern.replace(/\{username\}|\{vhost\}/g, (v) => escapeRegex(v === '{username}' ? username : vhost));
}
