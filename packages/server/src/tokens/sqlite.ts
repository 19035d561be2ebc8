/**
 * `latchkey/tokens/sqlite`: the token stores in SQLite (better-sqlite3): refresh-token families
 * and the access-token revocation log that verifiers in other processes read.
 */
export { createSqliteRefreshStore } from './refresh-sqlite.js';
export {
  createSqliteRevocationLog,
  createSqliteRevocations,
  type SqliteRevocationLogOptions,
} from './revocations-sqlite.js';
