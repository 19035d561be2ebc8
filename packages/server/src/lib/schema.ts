/**
 * The schema migrations every SQL store runs at construction, written once: a `schema_version`
 * table per table prefix, each step applied at most once, and a clear error when the database was
 * written by a newer latchkey. `what` names the schema in that error ("latchkey", "latchkey
 * one-time token").
 */
import type BetterSqlite3 from 'better-sqlite3';
import { ConfigurationError } from '../errors.js';
import type { PgQueryable } from '../stores/postgres.js';
import { driverKind, driverName, storeFor } from './drivers.js';
import { checkString, describe } from './options.js';

const newer = (what: string, version: unknown, steps: number) =>
  new ConfigurationError(
    `the database has ${what} schema version ${version}, newer than this latchkey writes (${steps}): upgrade latchkey, or give this version its own tablePrefix`,
  );

/** Applies the missing `steps` in one immediate transaction: another process waits, never migrates twice. */
export function migrateSqlite(db: BetterSqlite3.Database, t: string, steps: readonly string[], what: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS ${t}schema_version (version INTEGER NOT NULL)`);
  db.transaction(() => {
    const row = db.prepare(`SELECT MAX(version) AS v FROM ${t}schema_version`).get() as { v: number | null };
    const current = row.v ?? 0;
    if (current > steps.length) throw newer(what, current, steps.length);
    for (let v = current; v < steps.length; v++) {
      db.exec(steps[v] as string);
      db.prepare(`INSERT INTO ${t}schema_version (version) VALUES (?)`).run(v + 1);
    }
  }).immediate();
}

/** Applies the missing `steps` under an advisory lock, so instances starting at once migrate exactly once. */
export async function migratePostgresSchema(
  db: PgQueryable,
  t: string,
  steps: readonly string[],
  what: string,
): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS ${t}schema_version (version int NOT NULL)`).catch(async () => {
    // Two instances creating the table at once: one loses the race; the table exists now.
    await db.query(`SELECT 1 FROM ${t}schema_version LIMIT 1`);
  });
  for (let v = 1; v <= steps.length; v++) {
    await db.query(`DO $migrate$ BEGIN
      PERFORM pg_advisory_xact_lock(hashtextextended('${t}migrate', 0));
      IF (SELECT COALESCE(MAX(version), 0) FROM ${t}schema_version) < ${v} THEN
        ${steps[v - 1]}
        INSERT INTO ${t}schema_version (version) VALUES (${v});
      END IF;
    END $migrate$`);
  }
  const rows = (await db.query(`SELECT COALESCE(MAX(version), 0) AS v FROM ${t}schema_version`)).rows as {
    v: number;
  }[];
  if ((rows[0]?.v ?? 0) > steps.length) throw newer(what, rows[0]?.v, steps.length);
}

/** The argument has `query()`, or the error says what to pass. A connection string is never quoted: it may hold a password. */
export function checkPgQueryable(where: string, db: unknown): void {
  if (db !== null && typeof db === 'object' && typeof (db as { query?: unknown }).query === 'function') return;
  const example = `${where}(new pg.Pool({ connectionString: process.env.DATABASE_URL }))`;
  const kind = driverKind(db);
  if (kind === 'string') {
    throw new ConfigurationError(`${where} takes a pg Pool, pg Client or PGlite, not a connection string: ${example}`);
  }
  const got = kind === undefined ? describe(db) : driverName[kind];
  const wrap = kind === undefined ? undefined : storeFor[kind];
  throw new ConfigurationError(
    `${where} takes a pg Pool, pg Client or PGlite (anything with query(text, params)): ${example}; got ${got}${wrap === undefined ? '' : ` (for it, use ${wrap})`}`,
  );
}

/**
 * A PostgreSQL store's `tablePrefix`: letters, digits and `_`, not starting with a digit, because
 * it is spliced into SQL as part of an identifier. `fallback` is the store's default.
 *
 * @example
 * const t = checkTablePrefix(options.tablePrefix, 'latchkey_refresh_');
 */
export function checkTablePrefix(prefix: unknown, fallback: string): string {
  return checkString('tablePrefix', prefix, {
    default: fallback,
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 40,
  });
}
