/**
 * The best SQLite store we could give express-session: better-sqlite3 in WAL mode with prepared
 * statements (the published better-sqlite3-session-store prepares its SQL on every call). The
 * anchor should be as fast as it can honestly be.
 */
import type Database from 'better-sqlite3';
import session from 'express-session';

type Callback = (error?: unknown) => void;

export function createSqliteSessionStore(db: Database.Database): session.Store {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS express_sessions (sid TEXT PRIMARY KEY, sess TEXT NOT NULL, expire INTEGER NOT NULL) WITHOUT ROWID',
  );
  const get = db.prepare('SELECT sess FROM express_sessions WHERE sid = ? AND expire > ?').pluck();
  const set = db.prepare('INSERT OR REPLACE INTO express_sessions (sid, sess, expire) VALUES (?, ?, ?)');
  const touch = db.prepare('UPDATE express_sessions SET expire = ? WHERE sid = ?');
  const destroy = db.prepare('DELETE FROM express_sessions WHERE sid = ?');
  const expiry = (sess: session.SessionData) => Date.now() + (sess.cookie?.maxAge ?? 86_400_000);

  class SqliteSessionStore extends session.Store {
    override get(sid: string, callback: (error: unknown, sess?: session.SessionData | null) => void) {
      try {
        const json = get.get(sid, Date.now()) as string | undefined;
        callback(null, json === undefined ? null : (JSON.parse(json) as session.SessionData));
      } catch (error) {
        callback(error);
      }
    }
    override set(sid: string, sess: session.SessionData, callback?: Callback) {
      try {
        set.run(sid, JSON.stringify(sess), expiry(sess));
        callback?.();
      } catch (error) {
        callback?.(error);
      }
    }
    override touch(sid: string, sess: session.SessionData, callback?: Callback) {
      try {
        touch.run(expiry(sess), sid);
        callback?.();
      } catch (error) {
        callback?.(error);
      }
    }
    override destroy(sid: string, callback?: Callback) {
      try {
        destroy.run(sid);
        callback?.();
      } catch (error) {
        callback?.(error);
      }
    }
  }
  return new SqliteSessionStore();
}
