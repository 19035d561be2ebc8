/**
 * The demo's notes: non-sensitive, typed data the web app keeps in IndexedDB and syncs here. Each
 * note has a server version; a write names the version it was based on, and a write based on an
 * old version is a conflict (409 with the server's copy), never a silent overwrite.
 */
import type Database from 'better-sqlite3';

export interface Note {
  id: string;
  title: string;
  body: string;
  pinned: boolean;
  priority: number;
  tags: string[];
  /** ms since the epoch, set by the client that made the change. */
  updatedAt: number;
  /** Server version, 1 on creation, +1 on every accepted change. */
  version: number;
}

export type NoteInput = Omit<Note, 'id' | 'version'>;

export type WriteResult = { ok: true; note: Note } | { ok: false; current: Note | null };

export interface Notes {
  list(userId: string): Note[];
  /** Creates (`baseVersion` null) or updates (`baseVersion` = the version it was based on). */
  put(userId: string, id: string, input: NoteInput, baseVersion: number | null): WriteResult;
  remove(userId: string, id: string, baseVersion: number): WriteResult | { ok: true; note: null };
}

interface Row {
  id: string;
  title: string;
  body: string;
  pinned: number;
  priority: number;
  tags: string;
  updated_at: number;
  version: number;
}

const toNote = (r: Row): Note => ({
  id: r.id,
  title: r.title,
  body: r.body,
  pinned: r.pinned === 1,
  priority: r.priority,
  tags: JSON.parse(r.tags) as string[],
  updatedAt: r.updated_at,
  version: r.version,
});

export function createNotes(db: Database.Database): Notes {
  db.exec(`CREATE TABLE IF NOT EXISTS demo_notes (
    user_id TEXT NOT NULL,
    id TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    pinned INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    tags TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
  ) WITHOUT ROWID`);
  const all = db.prepare<[string], Row>('SELECT * FROM demo_notes WHERE user_id = ? ORDER BY updated_at DESC');
  const one = db.prepare<[string, string], Row>('SELECT * FROM demo_notes WHERE user_id = ? AND id = ?');
  const insert = db.prepare(
    'INSERT INTO demo_notes (user_id, id, title, body, pinned, priority, tags, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)',
  );
  const update = db.prepare(
    'UPDATE demo_notes SET title = ?, body = ?, pinned = ?, priority = ?, tags = ?, updated_at = ?, version = version + 1 WHERE user_id = ? AND id = ? AND version = ?',
  );
  const del = db.prepare('DELETE FROM demo_notes WHERE user_id = ? AND id = ? AND version = ?');
  const current = (userId: string, id: string) => {
    const row = one.get(userId, id);
    return row ? toNote(row) : null;
  };
  // Check-and-write in one transaction: two writers on one base version cannot both win. Run
  // IMMEDIATE (write lock first): a deferred one that read, then met another process's write,
  // fails with SQLITE_BUSY at once (instances sharing the file), without waiting for the lock.
  const putTx = db.transaction((userId: string, id: string, n: NoteInput, base: number | null): WriteResult => {
    const fields = [n.title, n.body, n.pinned ? 1 : 0, n.priority, JSON.stringify(n.tags), n.updatedAt] as const;
    const changed =
      base === null
        ? current(userId, id) === null && insert.run(userId, id, ...fields).changes === 1
        : update.run(...fields, userId, id, base).changes === 1;
    const note = current(userId, id);
    return changed && note ? { ok: true, note } : { ok: false, current: note };
  });
  return {
    list: (userId) => all.all(userId).map(toNote),
    put: (userId, id, n, base) => putTx.immediate(userId, id, n, base),
    remove(userId, id, base) {
      if (del.run(userId, id, base).changes === 1) return { ok: true, note: null };
      return { ok: false, current: current(userId, id) };
    },
  };
}
