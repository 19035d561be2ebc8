/**
 * A passkey as the SQL stores keep it (one column per field, transports as JSON text) and back:
 * shared by `latchkey/passkeys/sqlite` and `/postgres`. SQLite gives its booleans as 0 and 1.
 */
import type { PasskeyRecord } from './store.js';

export interface PasskeyRow {
  id: string;
  user_id: string;
  public_key: string;
  counter: number;
  transports: string;
  backup_eligible: boolean | number;
  backed_up: boolean | number;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export const fromRow = (r: PasskeyRow): PasskeyRecord => ({
  id: r.id,
  userId: r.user_id,
  publicKey: r.public_key,
  counter: r.counter,
  transports: JSON.parse(r.transports) as string[],
  backupEligible: r.backup_eligible === true || r.backup_eligible === 1,
  backedUp: r.backed_up === true || r.backed_up === 1,
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

/** The record's values in the column order `id, user_id, public_key, counter, transports, backup_eligible, backed_up, name, created_at, last_used_at`. */
export const columnsOf = (r: PasskeyRecord, bool: (b: boolean) => boolean | number) => [
  r.id,
  r.userId,
  r.publicKey,
  r.counter,
  JSON.stringify(r.transports),
  bool(r.backupEligible),
  bool(r.backedUp),
  r.name,
  r.createdAt,
  r.lastUsedAt,
];
