/**
 * The demo's accounts: a users table in the same SQLite file as the sessions, argon2id password
 * hashes (OWASP parameters, computed on libuv's thread pool, off the event loop), and the seeded
 * `demo` account. The login issue moves hashing into `latchkey/password` with rules and throttling.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import type Database from 'better-sqlite3';

// argon2id, m = 19 MiB, t = 2, p = 1: OWASP Password Storage Cheat Sheet minimum.
const ARGON2ID = { algorithm: 2 as Algorithm, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export interface User {
  id: string;
  username: string;
}

export interface Users {
  find(username: string): User | null;
  byId(id: string): User | null;
  /** The user when the password is theirs; `null` otherwise, with similar timing for unknown names. */
  verifyPassword(username: string, password: string): Promise<User | null>;
  /** Creates or resets an account's password. */
  upsert(username: string, password: string): Promise<User>;
}

export function createUsers(db: Database.Database): Users {
  db.exec(`CREATE TABLE IF NOT EXISTS demo_users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
  )`);
  const byName = db.prepare('SELECT id, username, password_hash FROM demo_users WHERE username = ?');
  const byId = db.prepare('SELECT id, username FROM demo_users WHERE id = ?');
  const insert = db.prepare('INSERT INTO demo_users (id, username, password_hash, created_at) VALUES (?, ?, ?, ?)');
  const update = db.prepare('UPDATE demo_users SET password_hash = ? WHERE id = ?');
  // Unknown usernames are checked against this hash, so they cost as much time as a wrong password.
  const dummy = hash(randomBytes(16).toString('hex'), ARGON2ID);

  type Row = User & { password_hash: string };
  return {
    find(username) {
      const row = byName.get(username) as Row | undefined;
      return row ? { id: row.id, username: row.username } : null;
    },
    byId: (id) => (byId.get(id) as User | undefined) ?? null,
    async verifyPassword(username, password) {
      const row = byName.get(username) as Row | undefined;
      const ok = await verify(row?.password_hash ?? (await dummy), password);
      return row && ok ? { id: row.id, username: row.username } : null;
    },
    async upsert(username, password) {
      const passwordHash = await hash(password, ARGON2ID);
      const row = byName.get(username) as Row | undefined;
      if (row) {
        update.run(passwordHash, row.id);
        return { id: row.id, username };
      }
      const id = randomUUID();
      insert.run(id, username, passwordHash, Date.now());
      return { id, username };
    },
  };
}
