import { badRequest, methodNotAllowed, notFound } from './errors.js';

/**
 * Path routing for RabbitMQ's URL scheme: a path is split on "/" first and
 * each segment percent-decoded after, so "%2F" (the default vhost "/") and
 * names containing "/" stay one segment. Patterns name their variables with
 * ":" ("/api/queues/:vhost/:name").
 */
export type Params = Record<string, string>;

interface Route<H> {
  readonly method: string;
  readonly segments: readonly string[];
  readonly handler: H;
}

export interface Match<H> {
  readonly handler: H;
  readonly params: Params;
}

export class Router<H> {
  private readonly routes: Route<H>[] = [];

  add(method: string, pattern: string, handler: H): this {
    this.routes.push({ method, segments: pattern.split('/').slice(1), handler });
    return this;
  }

  /**
   * The route for a method and raw (still encoded) path. Unknown paths are
   * 404; a known path with another method is 405. A segment that is not valid
   * percent-encoding is 400.
   */
  match(method: string, rawPath: string): Match<H> {
    const parts = rawPath.split('/').slice(1);
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop(); // a trailing slash
    let decoded: string[];
    try {
      decoded = parts.map((p) => decodeURIComponent(p));
    } catch {
      throw badRequest('invalid percent-encoding in the request path');
    }
    let pathKnown = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, decoded);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { handler: route.handler, params };
      pathKnown = true;
    }
    throw pathKnown ? methodNotAllowed() : notFound();
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Params | null {
  if (pattern.length !== parts.length) return null;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = parts[i]!;
    else if (p !== parts[i]) return null;
  }
  return params;
}
