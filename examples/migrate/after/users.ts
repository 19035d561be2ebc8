// The app's own accounts: unchanged by the migration. One demo user; scrypt from node:crypto.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

export interface User {
  id: string;
  username: string;
}

const salt = randomBytes(16);
const accounts = new Map([
  [
    'demo',
    { id: 'u1', username: 'demo', hash: scryptSync(process.env.DEMO_PASSWORD ?? 'correct horse battery', salt, 32) },
  ],
]);

export async function checkPassword(username: string, password: string): Promise<User | null> {
  const account = accounts.get(username);
  const hash = scryptSync(password, salt, 32); // computed for unknown names too: same timing
  return account && timingSafeEqual(hash, account.hash) ? { id: account.id, username: account.username } : null;
}
