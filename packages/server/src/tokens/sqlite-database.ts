/**
 * The SQLite token stores take an open better-sqlite3 Database; anything else (a file name, a
 * node:sqlite handle, a pg pool) fails here, at construction, with what to pass instead, rather
 * than as `db.exec is not a function` at the first call.
 */
import { ConfigurationError } from '../errors.js';
import { driverKind, driverName } from '../lib/drivers.js';
import { describe } from '../lib/options.js';

export function checkSqliteDatabase(where: string, db: unknown): void {
  const methods = ['prepare', 'exec', 'transaction'];
  if (
    typeof db === 'object' &&
    db !== null &&
    methods.every((m) => typeof (db as Record<string, unknown>)[m] === 'function')
  )
    return;
  const kind = driverKind(db);
  const got =
    kind === 'string'
      ? 'a file name'
      : kind === 'sqlite'
        ? 'a SQLite handle without transaction() (node:sqlite is not supported)'
        : kind === undefined
          ? describe(db)
          : driverName[kind];
  throw new ConfigurationError(
    `${where} takes an open better-sqlite3 Database, not ${got}: ${where}(new Database('data/tokens.db'))`,
  );
}
