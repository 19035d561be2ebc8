/**
 * A SQLite session file of realistic size for benchmarks: `total` sessions, of which `sampled`
 * were created through the session manager (their tokens are returned) and the rest are filler
 * rows of the same shape written in one transaction.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSessionManager, type SessionManager } from 'latchkey';
import { createSqliteStore } from 'latchkey/sqlite';

export const BENCH_KEY = 'bGF0Y2hrZXktYmVuY2gta2V5LW5vdC1hLXNlY3JldC0wMDA'; // 35 bytes, bench only

export interface Fixture {
  file: string;
  tokens: string[];
  sessions: SessionManager;
  db: Database.Database;
}

export async function buildFixture(dir: string, total: number, sampled: number): Promise<Fixture> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `sessions-${total}.db`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const db = new Database(file);
  const sessions = createSessionManager({
    store: createSqliteStore(db),
    keys: [BENCH_KEY],
    sweepInterval: 0,
    maxSessionsPerUser: 1000,
  });
  const insert = db.prepare(
    `INSERT INTO latchkey_sessions (id, secret_hash, user_id, created_at, last_seen_at, expires_at,
       absolute_expires_at, authenticated_at, user_agent, ip, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')`,
  );
  const now = Date.now();
  const fill = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) {
      const id = randomBytes(16).toString('base64url');
      insert.run(
        id,
        randomBytes(32),
        `user-${i % 200_000}`,
        now,
        now,
        now + 1_800_000,
        now + 43_200_000,
        now,
        'Mozilla/5.0 bench',
        '127.0.0.1',
      );
    }
  });
  fill(total - sampled);
  const tokens: string[] = [];
  for (let i = 0; i < sampled; i++) {
    const { token } = await sessions.createSession(`sampled-${i}`, { userAgent: 'Mozilla/5.0 bench', ip: '127.0.0.1' });
    tokens.push(token);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  return { file, tokens, sessions, db };
}
