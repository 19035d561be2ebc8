/**
 * `latchkey/tokens/postgres`: the token stores in PostgreSQL (pg), for many instances behind a load
 * balancer with the database as their only shared store: refresh-token families, and the
 * access-token revocation log that verifiers in other processes read. `createPostgresRefreshStore`
 * resolves once its tables exist, like the other PostgreSQL stores; the revocations are made at
 * once, like the other backends, and create their table at the first read (`await ready()`).
 */
export {
  createPostgresRefreshStore,
  dropPostgresRefreshSchema,
  POSTGRES_REFRESH_SCHEMA_VERSION,
  type PostgresRefreshStoreOptions,
} from './refresh-postgres.js';
export {
  createPostgresRevocationLog,
  createPostgresRevocations,
  dropPostgresRevocationSchema,
  POSTGRES_REVOCATION_SCHEMA_VERSION,
  type PostgresRevocationLogOptions,
} from './revocations-postgres.js';
