/**
 * Test clean-up for the reference server's PostgreSQL mode: every table and function under one
 * LATCHKEY_SHARED_PREFIX (sessions, one-time tokens, passkeys, TOTP, refresh families,
 * revocations), and the prefix's rows in the shared counters table.
 */
import type pg from 'pg';

export async function dropSharedPrefix(pool: pg.Pool, prefix: string): Promise<void> {
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) throw new Error(`not a table prefix: ${prefix}`);
  const like = `${prefix.replace(/_/g, '\\_')}\\_%`;
  const tables = await pool.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE $1`,
    [like],
  );
  if (tables.rows.length > 0)
    await pool.query(`DROP TABLE IF EXISTS ${tables.rows.map((r) => r.name).join(', ')} CASCADE`);
  const functions = await pool.query<{ name: string }>(
    `SELECT p.oid::regprocedure::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = current_schema() AND p.proname LIKE $1`,
    [like],
  );
  for (const f of functions.rows) await pool.query(`DROP FUNCTION IF EXISTS ${f.name} CASCADE`);
  await pool.query(`DELETE FROM latchkey_limits WHERE key LIKE $1`, [`${prefix}:%`]).catch(() => undefined);
}
