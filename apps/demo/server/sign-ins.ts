/**
 * Where each account has signed in before, so a sign-in from somewhere new mails a notice
 * (`notifyNewDevice` of latchkey/accounts). A place is the library's `deviceKey` (browser, system,
 * network) or this browser's device id; either one seen before makes the sign-in known. Only keyed
 * hashes are stored: the table says nothing of where a user was without the server's key.
 * An account's first sign-in (right after sign-up) is recorded without a notice: there is no
 * "new" without an old. Places unused for 180 days are forgotten and an account keeps at most 20,
 * but that it signed in at all is never forgotten: a dormant account's next sign-in is "new", not
 * "first" (dormant accounts are what credential stuffing finds).
 */
import { createHmac } from 'node:crypto';
import type Database from 'better-sqlite3';

export interface SignIns {
  /**
   * Records a sign-in from these places (`deviceKey(…)`, and `d:<device id>` when the browser has
   * one). `new`: none was seen before for this account, which has signed in before (mail the notice).
   */
  note(userId: string, places: readonly (string | undefined)[]): 'first' | 'known' | 'new';
}

const FORGET_AFTER = 180 * 24 * 3600 * 1000;
const KEEP = 20;
/** The row that says an account has signed in before; never forgotten, never trimmed. */
const SIGNED_IN = '*';

/**
 * @example
 * const signIns = createSignIns(db, logKey);
 * if (signIns.note(user.id, [deviceKey({ userAgent, ip }), device && `d:${device}`]) === 'new') await accounts.notifyNewDevice(user.id, { userAgent, ip });
 */
export function createSignIns(db: Database.Database, key: Buffer, now: () => number = Date.now): SignIns {
  db.exec(`CREATE TABLE IF NOT EXISTS demo_sign_ins (
    user_id TEXT NOT NULL,
    place TEXT NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (user_id, place)
  ) WITHOUT ROWID`);
  const forget = db.prepare(
    `DELETE FROM demo_sign_ins WHERE user_id = ? AND last_seen < ? AND place != '${SIGNED_IN}'`,
  );
  const seen = db.prepare<[string, string], { one: number }>(
    'SELECT 1 AS one FROM demo_sign_ins WHERE user_id = ? AND place = ?',
  );
  const upsert = db.prepare(
    'INSERT INTO demo_sign_ins (user_id, place, last_seen) VALUES (?, ?, ?) ON CONFLICT (user_id, place) DO UPDATE SET last_seen = excluded.last_seen',
  );
  const trim = db.prepare(
    `DELETE FROM demo_sign_ins WHERE user_id = ? AND place != '${SIGNED_IN}' AND place NOT IN
       (SELECT place FROM demo_sign_ins WHERE user_id = ? AND place != '${SIGNED_IN}' ORDER BY last_seen DESC LIMIT ?)`,
  );
  const hash = (place: string) => createHmac('sha256', key).update(place).digest('base64url');
  const note = db.transaction((userId: string, places: readonly (string | undefined)[]) => {
    const t = now();
    forget.run(userId, t - FORGET_AFTER);
    const hashes = places.filter((p): p is string => typeof p === 'string' && p !== '').map(hash);
    const first = seen.get(userId, SIGNED_IN) === undefined;
    const known = hashes.some((h) => seen.get(userId, h) !== undefined);
    for (const h of [SIGNED_IN, ...hashes]) upsert.run(userId, h, t);
    trim.run(userId, userId, KEEP);
    return first ? 'first' : known ? 'known' : 'new';
  });
  // IMMEDIATE: it reads, then writes; instances sharing the file must queue for the lock, not fail.
  return { note: (userId, places) => note.immediate(userId, places) as 'first' | 'known' | 'new' };
}
