/**
 * The demo's accounts: one table in the same SQLite file as the sessions. Each account has a
 * username and an e-mail address; a login accepts either. Passwords go through
 * `latchkey/password` (argon2id on the native thread pool, rehash when parameters rise); unknown
 * names cost a dummy verify, so timing does not tell which accounts exist (P3). Each account has an
 * API key that the server keeps: the point of the article (docs/article.md) that secrets stay on the server, shown masked.
 * The key is kept encrypted (AES-256-GCM, bound to its account's id) under a secret that lives
 * outside the database: a copied database file, a backup or a read through SQL injection does not
 * give anyone the keys.
 *
 * `users.directory` is the `AccountDirectory` of `latchkey/accounts` over the same table: sign-up
 * (an account is created only when its address is proved), password reset and e-mail change.
 * Addresses are stored as `normalizeEmail` gives them, unique. Rows from before addresses existed
 * get `<username>@example.com` (a reserved domain no mail reaches; the seeded `demo` account is
 * `demo@example.com`): they log in as before and can set a real address on the Account page.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { type AccountDirectory, normalizeEmail } from 'latchkey/accounts';
import { createPasswordHasher, type PasswordHasher } from 'latchkey/password';

export interface User {
  id: string;
  username: string;
  /** The account's address, as `normalizeEmail` gives it. */
  email: string;
}

export type LoginOutcome =
  | { ok: true; user: User }
  | { ok: false; reason: 'unknown-user' | 'wrong-password' | 'disabled' };

export interface Users {
  readonly hasher: PasswordHasher;
  /** The live account with this username, or this address when `login` holds an `@`. */
  find(login: string): User | null;
  /** The account when it exists and is not disabled. */
  byId(id: string): User | null;
  /** Checks a login by username or address. Every outcome costs one argon2id verify. */
  authenticate(login: string, password: string): Promise<LoginOutcome>;
  /** Is this the account's password? (step-up and password change) */
  checkPassword(id: string, password: string): Promise<boolean>;
  /**
   * A new account, or `null` when the name or the address is taken. The caller checked the
   * password rules. Default address: `<username>@example.com`. Sign-ups go through `directory`.
   */
  create(username: string, password: string, email?: string): Promise<User | null>;
  setPassword(id: string, password: string): Promise<void>;
  /** Creates the account or resets its password (the seeded demo account, `<username>@example.com`). */
  upsert(username: string, password: string, email?: string): Promise<User>;
  /** The accounts as `latchkey/accounts` sees them (sign-up, reset, e-mail change). */
  readonly directory: AccountDirectory;
  disable(id: string): void;
  apiKey(id: string): string | null;
  rotateApiKey(id: string): string;
}

/** Usernames are case-insensitive: stored and looked up in lower case. */
export const normalizeUsername = (username: string): string => username.normalize('NFKC').toLowerCase();

/** Usernames the app accepts (the register schema's rule, in lower case). */
const USERNAME = /^[a-z0-9_.-]{3,32}$/;

/** The address of an account made without one (before addresses existed, or the seeded ones). */
const placeholderEmail = (username: string) => `${username}@example.com`;

/**
 * A username for a sign-up that gave none (or one taken by then): the address's local part cut to
 * the username rule, and a random suffix when that is taken or too short.
 */
function usernameFor(email: string, taken: (name: string) => boolean): string {
  const base = (
    normalizeUsername(email.slice(0, email.lastIndexOf('@'))).replace(/[^a-z0-9_.-]+/g, '') || 'user'
  ).slice(0, 24);
  if (USERNAME.test(base) && !taken(base)) return base;
  for (;;) {
    const name = `${base}-${randomBytes(3).toString('hex')}`;
    if (!taken(name)) return name;
  }
}

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
    created_at INTEGER NOT NULL,
    email TEXT,
    email_changed_at INTEGER
  )`);
  migrate(db);
  type Row = {
    id: string;
    username: string;
    email: string;
    email_changed_at: number | null;
    password_hash: string;
    disabled: number;
    api_key: string;
  };
  const byName = db.prepare<[string], Row>('SELECT * FROM demo_accounts WHERE username = ?');
  const byEmail = db.prepare<[string], Row>('SELECT * FROM demo_accounts WHERE email = ?');
  const byId = db.prepare<[string], Row>('SELECT * FROM demo_accounts WHERE id = ?');
  /** A username or, with an `@`, an address (normalized; a malformed one finds nobody). */
  const byLogin = (login: string): Row | undefined => {
    if (!login.includes('@')) return byName.get(normalizeUsername(login));
    const email = normalizeEmail(login);
    return email === null ? undefined : byEmail.get(email);
  };
  const insert = db.prepare(
    'INSERT OR IGNORE INTO demo_accounts (id, username, email, password_hash, api_key, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const setHash = db.prepare('UPDATE demo_accounts SET password_hash = ? WHERE id = ?');
  const setEmail = db.prepare('UPDATE demo_accounts SET email = ?, email_changed_at = ? WHERE id = ?');
  const setKey = db.prepare('UPDATE demo_accounts SET api_key = ? WHERE id = ?');
  const setDisabled = db.prepare('UPDATE demo_accounts SET disabled = 1 WHERE id = ?');
  const user = (row: Row): User => ({ id: row.id, username: row.username, email: row.email });
  const insertRow = (username: string, email: string, passwordHash: string): string | null => {
    const id = randomUUID();
    const { changes } = insert.run(id, username, email, passwordHash, keys.seal(id, newApiKey()), Date.now());
    return changes === 1 ? id : null;
  };
  // A disabled account keeps its address: nobody else can sign up with it or take it over.
  const account = (row: Row | undefined) =>
    row ? { id: row.id, email: row.email, emailChangedAt: row.email_changed_at } : null;

  const directory: AccountDirectory = {
    findByEmail: (email) => account(byEmail.get(email)),
    findById: (id) => account(live(byId.get(id))),
    create({ email, passwordHash, username }) {
      if (byEmail.get(email)) return null;
      // The username asked for at sign-up, unless it was taken meanwhile (nobody could be told at
      // sign-up without revealing who has an account): then one made from the address.
      const wanted = username === undefined ? undefined : normalizeUsername(username);
      const taken = (name: string) => byName.get(name) !== undefined;
      const name = wanted !== undefined && USERNAME.test(wanted) && !taken(wanted) ? wanted : usernameFor(email, taken);
      return insertRow(name, email, passwordHash);
    },
    setPasswordHash: (id, passwordHash) => void setHash.run(passwordHash, id),
    setEmail: (id, email, changedAt) => void setEmail.run(email, changedAt, id),
  };
  const live = (row: Row | undefined) => (row && row.disabled === 0 ? row : undefined);

  const users: Users = {
    hasher,
    directory,
    find: (login) => {
      const row = live(byLogin(login));
      return row ? user(row) : null;
    },
    byId: (id) => {
      const row = live(byId.get(id));
      return row ? user(row) : null;
    },
    async authenticate(login, password) {
      const row = byLogin(login);
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
    async create(username, password, email) {
      const name = normalizeUsername(username);
      const address = normalizeEmail(email ?? placeholderEmail(name));
      if (address === null) return null;
      const id = insertRow(name, address, await hasher.hash(password));
      return id === null ? null : { id, username: name, email: address };
    },
    async setPassword(id, password) {
      setHash.run(await hasher.hash(password), id);
    },
    async upsert(username, password, email) {
      const existing = byName.get(normalizeUsername(username));
      if (existing) {
        await users.setPassword(existing.id, password);
        return user(existing);
      }
      const created = await users.create(username, password, email);
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

/**
 * Brings a table from before addresses up to date, in one transaction: the two columns, an address
 * for every row that has none (`<username>@example.com`), and the unique index.
 */
function migrate(db: Database.Database): void {
  // IMMEDIATE, and the columns read inside: instances starting together on one file migrate once.
  db.transaction(() => {
    const columns = new Set(
      (db.prepare('PRAGMA table_info(demo_accounts)').all() as { name: string }[]).map((c) => c.name),
    );
    if (!columns.has('email')) db.exec('ALTER TABLE demo_accounts ADD COLUMN email TEXT');
    if (!columns.has('email_changed_at')) db.exec('ALTER TABLE demo_accounts ADD COLUMN email_changed_at INTEGER');
    db.exec(`UPDATE demo_accounts SET email = username || '@example.com' WHERE email IS NULL`);
    db.exec('CREATE UNIQUE INDEX IF NOT EXISTS demo_accounts_email ON demo_accounts (email)');
  }).immediate();
}
