import { timingSafeEqual, createHash } from 'node:crypto';

export interface User {
  readonly name: string;
  /** SHA-256 of the password: plain passwords are not kept in memory longer than start-up. */
  readonly passwordHash: Buffer;
  /** Vhosts the user may open, or null for all. */
  readonly vhosts: ReadonlySet<string> | null;
  readonly tags: readonly string[];
}

const hash = (password: string): Buffer => createHash('sha256').update(password, 'utf8').digest();

/** Users, their passwords and which vhosts each may use. */
export class UserRegistry {
  private readonly users = new Map<string, User>();

  add(name: string, password: string, vhosts: readonly string[] | null = null, tags: readonly string[] = []): void {
    this.users.set(name, { name, passwordHash: hash(password), vhosts: vhosts ? new Set(vhosts) : null, tags });
  }

  /** The user when the password matches, else null (constant-time compare). */
  authenticate(name: string, password: string): User | null {
    const user = this.users.get(name);
    if (!user) return null;
    return timingSafeEqual(user.passwordHash, hash(password)) ? user : null;
  }

  mayAccess(user: User, vhost: string): boolean {
    return user.vhosts === null || user.vhosts.has(vhost);
  }
}
