/**
 * What the account flows reveal about who has an account: nothing in the answer (one frozen
 * object), nothing in the work (the same store, directory and hash calls, counted here), nothing in
 * the time (measured: known and unknown addresses within 0.5–2× of each other, as the login's P3
 * test), and no mail flood (one mail per window per address, 429 per client).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryOneTimeStore } from '../one-time/memory.js';
import { createSqliteOneTimeStore } from '../one-time/sqlite.js';
import type { OneTimeTokenStore } from '../one-time/store.js';
import type { PasswordHasher } from '../password/hash.js';
import { createRateLimit } from '../password/rate-limit.js';
import { hasher, PASSWORD, setupAccounts, tokenIn, wideLimits } from '../test/accounts.js';

const CLIENT = '198.51.100.7';
const dir = mkdtempSync(join(tmpdir(), 'latchkey-accounts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A store that records which of its methods are called, over `inner`. */
function countingStore(inner: OneTimeTokenStore = createMemoryOneTimeStore()) {
  const calls: string[] = [];
  const count =
    <A extends unknown[], R>(name: string, call: (...args: A) => R) =>
    (...args: A): R => {
      calls.push(name);
      return call(...args);
    };
  const store: OneTimeTokenStore = {
    insert: count('insert', inner.insert),
    take: count('take', inner.take),
    get: count('get', inner.get),
    deleteUser: count('deleteUser', inner.deleteUser),
    deleteExpired: count('deleteExpired', inner.deleteExpired),
  };
  return { store, calls };
}

/** The real hasher, counting its hashes. */
function countingHasher() {
  const counted = { hashes: 0 };
  const wrapped: PasswordHasher = {
    parameters: hasher.parameters,
    hash: (password) => {
      counted.hashes++;
      return hasher.hash(password);
    },
    verify: hasher.verify,
    verifyDummy: hasher.verifyDummy,
  };
  return { hasher: wrapped, counted };
}

/** The work a call did: store calls, directory calls, hashes; then cleared for the next call. */
function recorder(store: string[], directory: string[], counted: { hashes: number }) {
  return () => {
    const work = { store: [...store], directory: [...directory], hashes: counted.hashes };
    store.length = 0;
    directory.length = 0;
    counted.hashes = 0;
    return work;
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

describe('known and unknown addresses', () => {
  it('A2: register answers one object for a new, a taken and a rate-limited address, after the same work', async () => {
    const { store, calls: storeCalls } = countingStore();
    const { hasher: counting, counted } = countingHasher();
    const address = createRateLimit({ name: 'enum-register', perClient: { points: 1, duration: 3600 } });
    const { accounts, calls, mailer, signUp } = setupAccounts({
      store,
      hasher: counting,
      limits: { ...wideLimits(), address },
    });
    await signUp('ann@example.com'); // takes ann's one mail of the window
    await accounts.register({ email: 'bob@example.com', password: PASSWORD }, CLIENT); // and bob's
    const work = recorder(storeCalls, calls, counted);
    work();
    const mails = mailer.sent.length;

    const limitedKnown = await accounts.register({ email: 'ann@example.com', password: PASSWORD }, CLIENT);
    const limitedKnownWork = work();
    const limitedNew = await accounts.register({ email: 'bob@example.com', password: PASSWORD }, CLIENT);
    const limitedNewWork = work();
    expect(mailer.sent).toHaveLength(mails); // over the limit: no mail
    const fresh = await accounts.register({ email: 'carol@example.com', password: PASSWORD }, CLIENT);
    const freshWork = work();

    const {
      accounts: other,
      calls: otherCalls,
      mailer: otherMailer,
      signUp: otherSignUp,
    } = setupAccounts({
      store,
      hasher: counting,
    });
    await otherSignUp('dave@example.com');
    const otherWork = recorder(storeCalls, otherCalls, counted);
    otherWork();
    const taken = await other.register({ email: 'dave@example.com', password: PASSWORD }, CLIENT);
    const takenWork = otherWork();
    expect(otherMailer.sent.at(-1)?.subject).toBe('Someone tried to sign up to Acme with your address');

    for (const result of [limitedKnown, limitedNew, taken]) expect(result).toBe(fresh);
    expect(fresh).toEqual({ ok: true });
    expect(Object.isFrozen(fresh)).toBe(true);
    const expected = { store: ['insert'], directory: ['findByEmail'], hashes: 1 };
    for (const w of [limitedKnownWork, limitedNewWork, freshWork, takenWork]) expect(w).toEqual(expected);
  });

  it('A2: requestPasswordReset answers one object for a known, an unknown and a rate-limited address, after the same work', async () => {
    const { store, calls: storeCalls } = countingStore();
    const { hasher: counting, counted } = countingHasher();
    const address = createRateLimit({ name: 'enum-reset', perClient: { points: 1, duration: 3600 } });
    const { accounts, calls, mailer, directory } = setupAccounts({
      store,
      hasher: counting,
      limits: { ...wideLimits(), address },
    });
    await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
    const work = recorder(storeCalls, calls, counted);
    work();

    const known = await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const knownWork = work();
    const unknown = await accounts.requestPasswordReset({ email: 'ghost@example.com' }, CLIENT);
    const unknownWork = work();
    const limited = await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    const limitedWork = work();

    expect(unknown).toBe(known);
    expect(limited).toBe(known);
    const expected = { store: ['insert'], directory: ['findByEmail'], hashes: 0 };
    for (const w of [knownWork, unknownWork, limitedWork]) expect(w).toEqual(expected);
    expect(mailer.sent.map((m) => m.to)).toEqual(['ann@example.com']); // no mail to an address without an account
  });

  it('A2: an e-mail change to an address that has an account answers as to one that has none, after the same work', async () => {
    const { store, calls: storeCalls } = countingStore();
    const { hasher: counting, counted } = countingHasher();
    const { accounts, calls, signUp } = setupAccounts({ store, hasher: counting });
    const ann = await signUp('ann@example.com');
    const bob = await signUp('bob@example.com');
    await signUp('taken@example.com');
    const work = recorder(storeCalls, calls, counted);
    work();
    const free = await accounts.requestEmailChange(ann, 'free@example.com');
    const freeWork = work();
    const taken = await accounts.requestEmailChange(bob, 'taken@example.com');
    const takenWork = work();
    expect(taken).toBe(free);
    expect(takenWork).toEqual(freeWork);
    expect(freeWork).toEqual({ store: ['insert', 'insert'], directory: ['findById', 'findByEmail'], hashes: 0 });
  });

  it('A2: register takes as long for a taken address as for a new one (median of 7 each, within 0.5–2×)', async () => {
    const { flows, signUp } = setupAccounts();
    await signUp('ann@example.com');
    const time = async (email: string) => {
      const start = performance.now();
      await flows.register({ email, password: 'wrong password here' }, CLIENT);
      return performance.now() - start;
    };
    await time('warm-up@example.com');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time('ann@example.com'));
      unknown.push(await time(`ghost-${i}@example.com`));
    }
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });

  it('A2: requestPasswordReset takes as long for an unknown address as for a known one, on a SQLite file (median of 200 each, within 0.5–2×)', async () => {
    const db = new Database(join(dir, 'timing.db'));
    const { flows, directory } = setupAccounts({ store: createSqliteOneTimeStore(db) });
    await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
    const time = async (email: string) => {
      const start = performance.now();
      await flows.requestPasswordReset({ email }, CLIENT);
      return performance.now() - start;
    };
    for (let i = 0; i < 50; i++) await time(i % 2 ? 'ann@example.com' : 'ghost@example.com'); // warm-up
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 200; i++) {
      known.push(await time('ann@example.com'));
      unknown.push(await time(`ghost-${i}@example.com`));
    }
    db.close();
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe('mail floods', () => {
  it('A2: 1,000 reset requests for one address from 1,000 clients: the same answer each time, one mail in the window', async () => {
    const { accounts, mailer, directory, events } = setupAccounts({ limits: {} }); // the default limits
    await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        accounts.requestPasswordReset({ email: 'ann@example.com' }, `10.0.${i >> 8}.${i & 255}`),
      ),
    );
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toEqual({ ok: true });
    expect(mailer.sent.map((m) => m.to)).toEqual(['ann@example.com']);
    expect(events.filter((e) => e.type === 'address-limited')).toHaveLength(999);
  });

  it('A2: 1,000 reset requests from one client: 429 with Retry-After past its allowance, one mail', async () => {
    const { accounts, mailer, directory } = setupAccounts({ limits: {} });
    await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
    const results = [];
    for (let i = 0; i < 1000; i++)
      results.push(await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT));
    expect(results.slice(0, 30).every((r) => r.ok)).toBe(true);
    const refused = results.slice(30);
    expect(refused).toHaveLength(970);
    for (const r of refused) {
      expect(r).toMatchObject({ ok: false, error: 'TOO_MANY_ATTEMPTS' });
      expect(Number(!r.ok && r.headers['retry-after'])).toBeGreaterThan(3000);
    }
    expect(mailer.sent).toHaveLength(1);
    // Another client address is still served (and, the address having had its mail, sends none).
    expect(await accounts.requestPasswordReset({ email: 'ann@example.com' }, '203.0.113.50')).toEqual({ ok: true });
    expect(mailer.sent).toHaveLength(1);
  });

  it('A2: within the window the link already sent keeps working; after it, a new mail goes out', async () => {
    const address = createRateLimit({ name: 'enum-window', perClient: { points: 1, duration: 1 } });
    const { accounts, mailer, directory } = setupAccounts({ limits: { ...wideLimits(), address } });
    const id = await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    for (let i = 0; i < 20; i++) await accounts.requestPasswordReset({ email: 'Ann@Example.com' }, CLIENT);
    expect(mailer.sent).toHaveLength(1);
    const first = tokenIn(mailer.sent[0]);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
    expect(mailer.sent).toHaveLength(2);
    // The newer link replaced the first.
    expect(await accounts.resetPassword({ token: first, password: 'a brand new passphrase' })).toMatchObject({
      error: 'TOKEN_INVALID',
    });
    expect(
      await accounts.resetPassword({ token: tokenIn(mailer.sent[1]), password: 'a brand new passphrase' }),
    ).toEqual({ ok: true, userId: id });
  });

  it('a sign-up flood for one address sends one mail, and its link keeps working', async () => {
    const { accounts, mailer, users } = setupAccounts({ limits: {} });
    await accounts.register({ email: 'ann@example.com', password: PASSWORD }, CLIENT);
    for (let i = 0; i < 5; i++)
      await accounts.register({ email: 'ann@example.com', password: `attacker passphrase ${i}` }, `10.0.0.${i}`);
    expect(mailer.sent).toHaveLength(1);
    expect(await accounts.verifyEmail({ token: tokenIn(mailer.sent[0]), password: PASSWORD })).toEqual({
      ok: true,
      userId: 'user-1',
    });
    expect((await hasher.verify(users.get('user-1')?.passwordHash ?? '', PASSWORD)).ok).toBe(true);
  });

  it('an address with a line break, or over 254 octets, is refused on every flow before any store work or mail', async () => {
    const { store, calls: storeCalls } = countingStore();
    const { accounts, mailer, calls, signUp } = setupAccounts({ store });
    const id = await signUp('ann@example.com');
    storeCalls.length = 0;
    calls.length = 0;
    const sent = mailer.sent.length;
    const long = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.example`; // 264 octets
    for (const email of [
      'victim@example.com\r\nBcc: everyone@example.com',
      'victim@example.com\n',
      '\rvictim@example.com',
      long,
    ]) {
      expect(await accounts.register({ email, password: PASSWORD }, CLIENT)).toMatchObject({ error: 'EMAIL_INVALID' });
      expect(await accounts.requestPasswordReset({ email }, CLIENT)).toMatchObject({ error: 'EMAIL_INVALID' });
      expect(await accounts.requestEmailChange(id, email)).toMatchObject({ error: 'EMAIL_INVALID' });
    }
    expect(storeCalls).toEqual([]);
    expect(calls).toEqual([]);
    expect(mailer.sent).toHaveLength(sent);
  });
});
