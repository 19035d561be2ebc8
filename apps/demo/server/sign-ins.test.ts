import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSignIns } from './sign-ins.js';

const DAY = 86_400_000;

describe('sign-ins: where an account signed in before (the new-device notice)', () => {
  const setup = () => {
    let t = 1_800_000_000_000;
    const db = new Database(':memory:');
    const signIns = createSignIns(db, randomBytes(32), () => t);
    return { db, signIns, advance: (ms: number) => (t += ms) };
  };

  it('first, then known by either key, then new', () => {
    const { signIns } = setup();
    expect(signIns.note('u1', ['Firefox on Windows|198.51.100.0/24', 'd:device-a'])).toBe('first');
    expect(signIns.note('u1', ['Firefox on Windows|198.51.100.0/24', undefined])).toBe('known');
    // After a logout the device cookie is gone and a new one is given: the place still counts.
    expect(signIns.note('u1', ['Firefox on Windows|198.51.100.0/24', 'd:device-b'])).toBe('known');
    // The same browser on a trip, still with its device cookie: known.
    expect(signIns.note('u1', ['Firefox on Windows|203.0.113.0/24', 'd:device-b'])).toBe('known');
    expect(signIns.note('u1', ['Chrome on Android|192.0.2.0/24', undefined])).toBe('new');
    expect(signIns.note('u1', ['Chrome on Android|192.0.2.0/24', undefined])).toBe('known');
    // Places are per account.
    expect(signIns.note('u2', ['Chrome on Android|192.0.2.0/24'])).toBe('first');
  });

  it('stores keyed hashes only and keeps 20 places per account', () => {
    const { db, signIns, advance } = setup();
    signIns.note('u1', ['Firefox on Windows|198.51.100.0/24']);
    const rows = db.prepare('SELECT place FROM demo_sign_ins').all() as { place: string }[];
    expect(rows.map((r) => r.place).join()).not.toMatch(/Firefox|198\.51/);
    for (let i = 0; i < 30; i++) {
      advance(1000);
      signIns.note('u1', [`Chrome on Linux|10.0.${i}.0/24`]);
    }
    expect(db.prepare(`SELECT count(*) AS n FROM demo_sign_ins WHERE place != '*'`).get()).toEqual({ n: 20 });
    expect(signIns.note('u1', ['Chrome on Linux|10.0.0.0/24'])).toBe('new'); // trimmed away: new again
  });

  it('a dormant account: its places are forgotten after 180 days, but not that it signed in', () => {
    const { signIns, advance } = setup();
    expect(signIns.note('u1', ['Firefox on Windows|198.51.100.0/24', 'd:aaaaaaaaaaaaaaaaaaaaaa'])).toBe('first');
    advance(181 * DAY);
    // Someone with the stolen password, from another continent and browser: the owner hears of it.
    expect(signIns.note('u1', ['Chrome on Android|203.0.113.0/24'])).toBe('new');
    // The old place itself was forgotten with the rest: it counts as new too.
    advance(DAY);
    expect(signIns.note('u1', ['Firefox on Windows|198.51.100.0/24'])).toBe('new');
  });
});
