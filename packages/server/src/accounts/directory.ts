/**
 * The account directory contract: how `latchkey/accounts` asks the app for its users. The app
 * keeps its users in its own tables; it implements these five methods over them, and the flows
 * never see anything else. Addresses come and go in the form `normalizeEmail` gives.
 */

/**
 * What the flows need to know about an account. The app's user type may hold more; only these are read.
 *
 * @example
 * const account: Account = { id: 'user-42', email: 'ann@example.com', emailChangedAt: null };
 */
export interface Account {
  id: string;
  /** The account's address, as `normalizeEmail` gives it. Every address in the directory was proved by a link. */
  email: string;
  /**
   * When the address last changed through `confirmEmailChange` or `undoEmailChange` (milliseconds
   * since the epoch, as passed to `setEmail`), or `null` if it never did. While the last change is
   * younger than its undo link, another change is refused, so that whoever changed the address
   * cannot change it once more to replace the undo link the old address received.
   */
  emailChangedAt: number | null;
}

/**
 * The app's users, as the account flows see them. Each method may reject (a database that is
 * down): the flow rejects with the same error and the route answers 503.
 *
 * @example
 * const directory: AccountDirectory = {
 *   findByEmail: (email) => db.prepare('SELECT id, email, email_changed_at AS emailChangedAt FROM users WHERE email = ?').get(email) ?? null,
 *   findById: (id) => db.prepare('SELECT id, email, email_changed_at AS emailChangedAt FROM users WHERE id = ?').get(id) ?? null,
 *   async create({ email, passwordHash, username }) {
 *     const id = randomUUID();
 *     const { changes } = db.prepare('INSERT OR IGNORE INTO users (id, email, password_hash, username) VALUES (?, ?, ?, ?)').run(id, email, passwordHash, username ?? null);
 *     return changes === 1 ? id : null; // the address (or username) was taken meanwhile
 *   },
 *   setPasswordHash: (id, hash) => void db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, id),
 *   setEmail: (id, email, at) => void db.prepare('UPDATE users SET email = ?, email_changed_at = ? WHERE id = ?').run(email, at, id),
 * };
 */
export interface AccountDirectory {
  /** The account with this address (normalized), or `null`/`undefined`. Match exactly: the flows normalized it. */
  findByEmail(email: string): Promise<Account | null | undefined> | Account | null | undefined;
  /** The account with this id, or `null`/`undefined`. */
  findById(id: string): Promise<Account | null | undefined> | Account | null | undefined;
  /**
   * Creates an account whose address is proved (the sign-up link was followed), with the argon2id
   * hash of its password and the username given at sign-up, if any. Resolves to the new id, or to
   * `null` when the address or the username is taken by then (a unique index said no).
   */
  create(account: { email: string; passwordHash: string; username?: string }): Promise<string | null> | string | null;
  /** Stores a new password hash (a PHC string from the hasher). */
  setPasswordHash(id: string, passwordHash: string): Promise<void> | void;
  /** Stores a new, proved address and when it changed (ms), to give back as `emailChangedAt`. */
  setEmail(id: string, email: string, changedAt: number): Promise<void> | void;
}
