import type { IncomingMessage } from 'node:http';
import type { Permission, ResourceKind, UserRecord } from '../auth/access-control.js';
import type { VirtualHost } from '../broker/virtual-host.js';
import { AmqpError } from '../protocol/index.js';
import { CONTROL_SOCKET_USER } from './control-socket.js';
import { isAdmin, visibleVhosts } from './auth.js';
import type { ManagementBackend } from './backend.js';
import { parseJsonObject, readBody, type JsonObject } from './body.js';
import { fromAmqpError, notAuthorised, notFound } from './errors.js';
import type { Params } from './router.js';

/** What a route handler answers: a status (default 200) and a JSON body (none for 201/204). */
export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

/** One authenticated API request: its user, path parameters, query, and helpers the routes share. */
export class RequestContext {
  constructor(
    readonly req: IncomingMessage,
    readonly backend: ManagementBackend,
    readonly user: UserRecord,
    readonly params: Params,
    readonly query: URLSearchParams,
  ) {}

  /** The request body as a JSON object (400 for anything else; bodies are capped). */
  async json(limit?: number): Promise<JsonObject> {
    return parseJsonObject(await readBody(this.req, limit));
  }

  /**
   * The vhost named by the path: 404 when it does not exist, 401 when the
   * user may not use it (administrators may use every vhost; `visible` lets
   * monitors read any vhost too), as RabbitMQ's is_authorized_vhost(_visible).
   */
  vhost(visible = false, name = this.params.vhost!): VirtualHost {
    const vhost = this.backend.vhosts.get(name);
    if (!vhost) throw notFound();
    if (isAdmin(this.user)) return vhost;
    const allowed = visible ? visibleVhosts(this.user, this.backend.access, [name]).length > 0 : this.backend.access.mayOpen(this.user.name, name);
    if (!allowed) throw notAuthorised('User not authorised to access virtual host');
    return vhost;
  }

  /** The vhosts whose objects this user sees in lists (all of them for monitors and administrators). */
  visibleVhosts(): VirtualHost[] {
    const names = visibleVhosts(this.user, this.backend.access, this.backend.vhosts.keys());
    return names.map((n) => this.backend.vhosts.get(n)!);
  }

  /** The vhost of the path if there is one, else every visible vhost. */
  vhostsInScope(): VirtualHost[] {
    return this.params.vhost === undefined ? this.visibleVhosts() : [this.vhost(true)];
  }

  /** Runs a model command, turning its AMQP errors into RabbitMQ's HTTP answers. */
  command<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof AmqpError) throw fromAmqpError(err);
      throw err;
    }
  }

  /**
   * The user's permission check for a resource, as an AMQP channel would make
   * it (RabbitMQ's management plugin acts through a channel as the user):
   * refused is 401 with RabbitMQ's access-refused text.
   */
  allow(vhost: VirtualHost, kind: ResourceKind, name: string, permission: Permission): void {
    if (this.user === CONTROL_SOCKET_USER) return; // the broker's own operator, as rabbitmqctl: no resource checks
    this.command(() => this.backend.access.checkResource(this.user.name, vhost.name, kind, name, permission));
  }

  /** A boolean query flag (?if-unused=true). */
  flag(name: string): boolean {
    return this.query.get(name) === 'true';
  }
}
