/**
 * The demo's accounts: one table in the same SQLite file as the sessions. Passwords go through
 * `latchkey/password` (argon2id on the native thread pool, rehash when parameters rise); unknown
 * names cost a dummy verify, so timing does not tell which accounts exist (P3). Each account has an
 * API key that the server keeps: the point of the article (docs/article.md) that secrets stay on the server, shown masked.
 * The key is kept encrypted (AES-256-GCM, bound to its account's id) under a secret that lives
 * outside the database: a copied database file, a backup or a read through SQL injection does not
 * give anyone the keys.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { createPasswordHasher, type PasswordHasher } from 'latchkey/password';

export interface User {
  id: string;
  username: string;
}

export type LoginOutcome =
  | { ok: true; user: User }
  | { ok: false; reason: 'unknown-user' | 'wrong-password' | 'disabled' };

export interface Users {
  readonly hasher: PasswordHasher;
  find(username: string): User | null;
  /** The account when it exists and is not disabled. */
  byId(id: string): User | null;
  /** Checks a login. Every outcome costs one argon2id verify. */
  authenticate(username: string, password: string): Promise<LoginOutcome>;
  /** Is this the account's password? (step-up and password change) */
  checkPassword(id: string, password: string): Promise<boolean>;
  /** A new account, or `null` when the name is taken. The caller checked the password rules. */
  create(username: string, password: string): Promise<User | null>;
  setPassword(id: string, password: string): Promise<void>;
  /** Creates the account or resets its password (the seeded demo account). */
  upsert(username: string, password: string): Promise<User>;
  disable(id: string): void;
  apiKey(id: string): string | null;
  rotateApiKey(id: string): string;
}

/** Usernames are case-insensitive: stored and looked up in lower case. */
export const normalizeUsername = (username: string): string => username.normalize('NFKC').toLowerCase();

const newApiKey = () => `lk_live_${randomBytes(24).toString('base64url')}`;

/** `lk_live_••••••••wxyz`: enough to recognise a key, not enough to use it. */
export const maskApiKey = (key: string): string => `${key.slice(0, 8)}${'•'.repeat(8)}${key.slice(-4)}`;

export interface UsersOptions {
  hasher?: PasswordHasher;
  /** 32 bytes that encrypt the API keys at rest. Keep it outside the database. Default: random per process. */
  apiKeySecret?: Buffer;
}

/** `v1.<iv>.<ciphertext+tag>`, AES-256-GCM with the account id as additional data. */
function sealer(secret: Buffer) {
  if (secret.length !== 32) throw new Error('apiKeySecret must be 32 bytes');
  return {
    seal(id: string, key: string): string {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', secret, iv).setAAD(Buffer.from(id));
      const sealed = Buffer.concat([cipher.update(key, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `v1.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
    },
    open(id: string, stored: string): string | null {
      const [version, iv, sealed] = stored.split('.');
      if (version !== 'v1' || !iv || !sealed) return null;
      try {
        const bytes = Buffer.from(sealed, 'base64url');
        const decipher = createDecipheriv('aes-256-gcm', secret, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(id));
        decipher.setAuthTag(bytes.subarray(-16));
        return Buffer.concat([decipher.update(bytes.subarray(0, -16)), decipher.final()]).toString('utf8');
      } catch {
        return null; // another secret, or a tampered row: no key rather than a wrong one
      }
    },
  };
}

export function createUsers(db: Database.Database, options: UsersOptions = {}): Users {
  const hasher = options.hasher ?? createPasswordHasher();
  const keys = sealer(options.apiKeySecret ?? randomBytes(32));
  db.exec(`CREATE TABLE IF NOT EXISTS demo_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    api_key TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  )`);
  type Row = { id: string; username: string; password_hash: string; disabled: number; api_key: string };
  const byName = db.prepare<[string], Row>('SELECT * FROM demo_accounts WHERE username = ?');
  const byId = db.prepare<[string], Row>('SELECT * FROM demo_accounts WHERE id = ?');
  const insert = db.prepare(
    'INSERT OR IGNORE INTO demo_accounts (id, username, password_hash, api_key, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const setHash = db.prepare('UPDATE demo_accounts SET password_hash = ? WHERE id = ?');
  const setKey = db.prepare('UPDATE demo_accounts SET api_key = ? WHERE id = ?');
  const setDisabled = db.prepare('UPDATE demo_accounts SET disabled = 1 WHERE id = ?');
  const user = (row: Row): User => ({ id: row.id, username: row.username });
  const live = (row: Row | undefined) => (row && row.disabled === 0 ? row : undefined);

  const users: Users = {
    hasher,
    find: (username) => {
      const row = live(byName.get(normalizeUsername(username)));
      return row ? user(row) : null;
    },
    byId: (id) => {
      const row = live(byId.get(id));
      return row ? user(row) : null;
    },
    async authenticate(username, password) {
      const row = byName.get(normalizeUsername(username));
      if (!row) {
        await hasher.verifyDummy(password);
        return { ok: false, reason: 'unknown-user' };
      }
      const { ok, needsRehash } = await hasher.verify(row.password_hash, password);
      // A disabled account answers like a wrong password, after the same work (P3).
      if (!ok) return { ok: false, reason: 'wrong-password' };
      if (row.disabled !== 0) return { ok: false, reason: 'disabled' };
      if (needsRehash) setHash.run(await hasher.hash(password), row.id);
      return { ok: true, user: user(row) };
    },
    async checkPassword(id, password) {
      const row = live(byId.get(id));
      if (!row) return (await hasher.verifyDummy(password)).ok;
      return (await hasher.verify(row.password_hash, password)).ok;
    },
    async create(username, password) {
      const name = normalizeUsername(username);
      const id = randomUUID();
      const passwordHash = await hasher.hash(password);
      const { changes } = insert.run(id, name, passwordHash, keys.seal(id, newApiKey()), Date.now());
      return changes === 1 ? { id, username: name } : null;
    },
    async setPassword(id, password) {
      setHash.run(await hasher.hash(password), id);
    },
    async upsert(username, password) {
      const existing = byName.get(normalizeUsername(username));
      if (existing) {
        await users.setPassword(existing.id, password);
        return user(existing);
      }
      const created = await users.create(username, password);
      if (!created) throw new Error('account appeared concurrently');
      return created;
    },
    disable: (id) => void setDisabled.run(id),
    apiKey(id) {
      const row = live(byId.get(id));
      if (!row) return null;
      // A row from before encryption at rest holds the key in clear: seal it on first read.
      if (row.api_key.startsWith('lk_live_')) {
        setKey.run(keys.seal(id, row.api_key), id);
        return row.api_key;
      }
      return keys.open(id, row.api_key);
    },
    rotateApiKey(id) {
      const key = newApiKey();
      setKey.run(keys.seal(id, key), id);
      return key;
    },
  };
  return users;
}
