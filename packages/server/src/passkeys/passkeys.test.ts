import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { cookieOf, ORIGIN, RP, register, setup, signIn } from '../test/passkeys.js';
import { runPasskeyStoreConformance } from './conformance.js';
import { createMemoryPasskeyStore, createPasskeys, type PasskeyOptionsJSON } from './index.js';
import { createSqlitePasskeyStore } from './sqlite.js';
import { createSoftAuthenticator } from './testing.js';

runPasskeyStoreConformance({
  name: 'memory',
  createStore: createMemoryPasskeyStore,
  describe,
  it,
  beforeEach,
  afterEach,
});

const dbs = new WeakMap<object, Database.Database>();
runPasskeyStoreConformance({
  name: 'sqlite',
  createStore: () => {
    const db = new Database(':memory:');
    const store = createSqlitePasskeyStore(db);
    dbs.set(store, db);
    return store;
  },
  destroyStore: (store) => dbs.get(store)?.close(),
  describe,
  it,
  beforeEach,
  afterEach,
});

type Opts = PasskeyOptionsJSON;

describe('createPasskeys', () => {
  it('registers a discoverable passkey, signs in with it alone, steps up with it, renames it', async () => {
    const { passkeys, store } = setup();
    const auth = createSoftAuthenticator({ origin: ORIGIN, backupEligible: true, backedUp: true });
    const started = await passkeys.registrationOptions({ id: 'u1', name: 'ada@example.org' }, 's1');
    expect(started.ok).toBe(true);
    const options = (started as { options: PasskeyOptionsJSON }).options as Record<string, any>;
    expect(options.rp).toEqual({ name: 'Acme', id: RP });
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(options.attestation).toBe('none');
    // The user handle is opaque: neither the id nor the address.
    expect(Buffer.from(options.user.id, 'base64url').toString()).not.toContain('u1');
    expect(options.user.id).toHaveLength(43);

    const added = await passkeys.verifyRegistration('u1', 's1', auth.register(options as Opts), { name: ' Laptop ' });
    expect(added).toMatchObject({
      ok: true,
      passkey: { name: 'Laptop', syncable: true, backedUp: true, lastUsedAt: null },
    });
    expect((await store.list('u1'))[0]?.counter).toBe(0);

    const proof = await signIn(passkeys, auth);
    expect(proof).toMatchObject({ ok: true, userId: 'u1', userVerified: true });
    expect((await store.list('u1'))[0]?.counter).toBe(1);

    const step = await passkeys.stepUpOptions('u1', 's2');
    expect(step.ok && (step.options.allowCredentials as { id: string }[]).map((c) => c.id)).toEqual([
      auth.credentials[0]?.id,
    ]);
    const stepped = await passkeys.verifyStepUp(
      'u1',
      's2',
      auth.authenticate((step as { options: Opts & { rpId: string } }).options),
    );
    expect(stepped).toMatchObject({ ok: true, userId: 'u1' });

    const id = auth.credentials[0]?.id as string;
    expect(await passkeys.rename('u1', id, 'Work laptop')).toEqual({ ok: true });
    expect(await passkeys.rename('u1', id, 'x'.repeat(65))).toEqual({ ok: false, error: 'BAD_REQUEST' });
    expect(await passkeys.rename('u1', id, 'two\nlines')).toEqual({ ok: false, error: 'BAD_REQUEST' });
    expect(await passkeys.rename('u2', id, 'Mine now')).toEqual({ ok: false, error: 'NOT_FOUND' });
    expect((await passkeys.list('u1')).map((p) => p.name)).toEqual(['Work laptop']);
    expect(JSON.stringify(await passkeys.list('u1'))).not.toContain((await store.list('u1'))[0]?.publicKey);
  });

  it('M2: a challenge answers once: the same answer again, or a second answer, is refused', async () => {
    const { passkeys } = setup();
    const auth = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, auth);
    const { headers, options } = await passkeys.signInOptions();
    expect(headers['set-cookie']).toMatch(
      /^__Host-passkey-flow=[\w-]{22}; Max-Age=300; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
    );
    const flow = cookieOf(headers);
    const answer = auth.authenticate(options);
    const first = await passkeys.verifySignIn(flow, answer);
    expect(first.ok).toBe(true);
    expect(first.headers['set-cookie']).toMatch(/^__Host-passkey-flow=; Max-Age=0;/);
    expect(await passkeys.verifySignIn(flow, answer)).toMatchObject({ ok: false, error: 'PASSKEY_CHALLENGE_EXPIRED' });
    // Replayed under a fresh flow: its signed challenge is the old one.
    const fresh = await passkeys.signInOptions();
    expect(await passkeys.verifySignIn(cookieOf(fresh.headers), answer)).toMatchObject({
      ok: false,
      error: 'PASSKEY_INVALID',
    });
    // And that fresh flow is spent by the failed try.
    expect(await passkeys.verifySignIn(cookieOf(fresh.headers), auth.authenticate(fresh.options))).toMatchObject({
      ok: false,
      error: 'PASSKEY_CHALLENGE_EXPIRED',
    });
    // Another browser's flow (no cookie, a made-up one) never finishes this one's.
    const mine = await passkeys.signInOptions();
    const proof = auth.authenticate(mine.options);
    expect(await passkeys.verifySignIn(undefined, proof)).toMatchObject({ error: 'PASSKEY_CHALLENGE_EXPIRED' });
    expect(await passkeys.verifySignIn('__Host-passkey-flow=AAAAAAAAAAAAAAAAAAAAAA', proof)).toMatchObject({
      error: 'PASSKEY_CHALLENGE_EXPIRED',
    });
    expect((await passkeys.verifySignIn(`a=b; ${cookieOf(mine.headers)}`, proof)).ok).toBe(true);
  });

  it('a wrong answer spends the challenge too, and two racing answers: exactly one wins', async () => {
    const { passkeys } = setup();
    const auth = createSoftAuthenticator({ origin: ORIGIN, counterStep: 0 });
    await register(passkeys, auth);
    const { headers, options } = await passkeys.signInOptions();
    const flow = cookieOf(headers);
    const results = await Promise.all([
      passkeys.verifySignIn(flow, auth.authenticate(options)),
      passkeys.verifySignIn(flow, auth.authenticate(options)),
      passkeys.verifySignIn(flow, auth.authenticate(options)),
    ]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it("a registration or step-up challenge is bound to its session and user: another's is refused", async () => {
    const { passkeys } = setup();
    const auth = createSoftAuthenticator({ origin: ORIGIN });
    const started = await passkeys.registrationOptions({ id: 'u1', name: 'a' }, 'session-A');
    const answer = auth.register((started as { options: Opts }).options);
    expect(await passkeys.verifyRegistration('u1', 'session-B', answer)).toEqual({
      ok: false,
      error: 'PASSKEY_CHALLENGE_EXPIRED',
    });
    expect(await passkeys.verifyRegistration('u2', 'session-A', answer)).toEqual({
      ok: false,
      error: 'PASSKEY_CHALLENGE_EXPIRED',
    });
    expect((await passkeys.verifyRegistration('u1', 'session-A', answer)).ok).toBe(true);

    const step = await passkeys.stepUpOptions('u1', 'session-A');
    const proof = auth.authenticate((step as { options: Opts & { rpId: string } }).options);
    expect(await passkeys.verifyStepUp('u1', 'session-C', proof)).toEqual({
      ok: false,
      error: 'PASSKEY_CHALLENGE_EXPIRED',
    });
  });

  it("step-up with another account's passkey is refused, as is step-up for an account without one", async () => {
    const { passkeys } = setup();
    const mallory = createSoftAuthenticator({ origin: ORIGIN });
    const ada = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, ada, 'ada');
    await register(passkeys, mallory, 'mallory');
    const step = await passkeys.stepUpOptions('ada', 's');
    expect(
      await passkeys.verifyStepUp('ada', 's', mallory.authenticate((step as { options: Opts }).options as never)),
    ).toEqual({
      ok: false,
      error: 'PASSKEY_INVALID',
    });
    expect(await passkeys.stepUpOptions('nobody', 's')).toEqual({ ok: false, error: 'NO_PASSKEY' });
  });

  it('M2: answers made for another origin or relying party are refused, at registration and at sign-in', async () => {
    const { passkeys } = setup();
    const phish = createSoftAuthenticator({ origin: 'https://app.example.com.evil.test' });
    expect(await register(passkeys, phish)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });
    const otherRp = createSoftAuthenticator({ origin: ORIGIN, rpId: 'evil.test' });
    expect(await register(passkeys, otherRp)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });

    const good = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, good);
    // The same key, answering for a page on another origin (a phishing proxy relaying the challenge).
    const relayed = createSoftAuthenticator({ origin: 'https://login.evil.test' });
    relayed.credentials.push(...good.credentials);
    expect(await signIn(passkeys, relayed)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });
    const wrongRp = createSoftAuthenticator({ origin: ORIGIN, rpId: 'evil.test' });
    wrongRp.credentials.push(...good.credentials);
    expect(await signIn(passkeys, wrongRp)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });
    expect((await signIn(passkeys, good)).ok).toBe(true);
  });

  it('M2: a counter that does not move forward is refused (a cloned authenticator); one that keeps none is fine', async () => {
    const { passkeys, store } = setup();
    const auth = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, auth);
    expect((await signIn(passkeys, auth)).ok).toBe(true); // counter 1
    expect((await signIn(passkeys, auth)).ok).toBe(true); // counter 2
    const cred = auth.credentials[0];
    if (cred) cred.counter = 0; // the clone answers with 1 again
    expect(await signIn(passkeys, auth)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });
    expect((await store.list('u1'))[0]?.counter).toBe(2);

    const synced = createSoftAuthenticator({ origin: ORIGIN, counterStep: 0, backupEligible: true });
    await register(passkeys, synced, 'u2');
    for (let i = 0; i < 3; i++) expect((await signIn(passkeys, synced)).ok).toBe(true);
  });

  it('M2: the backup-eligible flag is held to what was registered', async () => {
    const { passkeys } = setup();
    const device = createSoftAuthenticator({ origin: ORIGIN, backupEligible: false });
    await register(passkeys, device);
    const flipped = createSoftAuthenticator({ origin: ORIGIN, backupEligible: true, backedUp: true });
    flipped.credentials.push(...device.credentials);
    expect(await signIn(passkeys, flipped)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });
  });

  it('with userVerification required, an answer without it is refused; preferred accepts it as one factor', async () => {
    const strict = setup();
    const noUv = createSoftAuthenticator({ origin: ORIGIN, userVerified: false });
    expect(await register(strict.passkeys, noUv)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });

    const lax = setup({ userVerification: 'preferred' });
    const noUv2 = createSoftAuthenticator({ origin: ORIGIN, userVerified: false });
    expect((await register(lax.passkeys, noUv2)).ok).toBe(true);
    expect(await signIn(lax.passkeys, noUv2)).toMatchObject({ ok: true, userVerified: false });
  });

  it('a challenge expires after challengeTtl', async () => {
    const { passkeys, tick } = setup({ challengeTtl: 60 });
    const auth = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, auth);
    const { headers, options } = await passkeys.signInOptions();
    tick(61_000);
    expect(await passkeys.verifySignIn(cookieOf(headers), auth.authenticate(options))).toMatchObject({
      ok: false,
      error: 'PASSKEY_CHALLENGE_EXPIRED',
    });
  });

  it('a credential registered already, to anyone, is refused; excludeCredentials lists the own ones', async () => {
    const { passkeys } = setup();
    const auth = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, auth, 'u1');
    const again = await passkeys.registrationOptions({ id: 'u1', name: 'a' }, 's1');
    expect(
      (again as unknown as { options: { excludeCredentials: { id: string }[] } }).options.excludeCredentials.map(
        (c) => c.id,
      ),
    ).toEqual([auth.credentials[0]?.id]);
    // The same credential presented for another account: refused, never moved to it.
    const started = await passkeys.registrationOptions({ id: 'u2', name: 'b' }, 's2');
    const answer = auth.register((started as { options: Opts }).options, auth.credentials[0]);
    expect(await passkeys.verifyRegistration('u2', 's2', answer)).toEqual({
      ok: false,
      error: 'PASSKEY_ALREADY_REGISTERED',
    });
    expect(await passkeys.list('u2')).toEqual([]);
    // An answer whose id does not match the credential inside it is refused.
    const other = await passkeys.registrationOptions({ id: 'u2', name: 'b' }, 's3');
    const fresh = auth.register((other as { options: Opts }).options);
    const forged = { ...fresh, id: auth.credentials[0]?.id, rawId: auth.credentials[0]?.id };
    expect(await passkeys.verifyRegistration('u2', 's3', forged)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });
  });

  it('refuses malformed answers with PASSKEY_INVALID, never a throw', async () => {
    const { passkeys } = setup();
    const auth = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, auth);
    const bad = [
      null,
      'a string',
      42,
      {},
      { id: 'x', rawId: 'y', type: 'public-key', response: {} },
      { id: 'x'.repeat(5000), rawId: 'x'.repeat(5000), type: 'public-key', response: {} },
      { id: auth.credentials[0]?.id, rawId: auth.credentials[0]?.id, type: 'public-key', response: { signature: 5 } },
      { id: auth.credentials[0]?.id, rawId: auth.credentials[0]?.id, type: 'public-key', response: null },
    ];
    for (const response of bad) {
      const { headers } = await passkeys.signInOptions();
      expect(await passkeys.verifySignIn(cookieOf(headers), response)).toMatchObject({
        ok: false,
        error: 'PASSKEY_INVALID',
      });
      const started = await passkeys.registrationOptions({ id: 'u1', name: 'a' }, 's9');
      expect(started.ok).toBe(true);
      expect(await passkeys.verifyRegistration('u1', 's9', response)).toEqual({ ok: false, error: 'PASSKEY_INVALID' });
    }
    expect(await passkeys.verifySignIn('__Host-passkey-flow=no such flow', null)).toMatchObject({
      ok: false,
      error: 'PASSKEY_CHALLENGE_EXPIRED',
    });
  });

  it('the last passkey of an account without a password cannot be removed, even by two racing removals', async () => {
    const { passkeys } = setup();
    const a = createSoftAuthenticator({ origin: ORIGIN });
    const b = createSoftAuthenticator({ origin: ORIGIN });
    await register(passkeys, a);
    await register(passkeys, b);
    const [ida, idb] = [a.credentials[0]?.id as string, b.credentials[0]?.id as string];
    const both = await Promise.all([
      passkeys.remove('u1', ida, { otherSignIn: false }),
      passkeys.remove('u1', idb, { otherSignIn: false }),
    ]);
    expect(both.filter((r) => r.ok)).toHaveLength(1);
    expect(both.find((r) => !r.ok)).toEqual({ ok: false, error: 'LAST_SIGN_IN_METHOD' });
    const last = (await passkeys.list('u1'))[0]?.id as string;
    expect(await passkeys.remove('u1', last, { otherSignIn: false })).toEqual({
      ok: false,
      error: 'LAST_SIGN_IN_METHOD',
    });
    expect(await passkeys.remove('u2', last, { otherSignIn: true })).toEqual({ ok: false, error: 'NOT_FOUND' });
    expect(await passkeys.remove('u1', last, { otherSignIn: true })).toEqual({ ok: true });
    expect(await passkeys.list('u1')).toEqual([]);
  });

  it('holds an account to maxPerUser passkeys', async () => {
    const { passkeys } = setup({ maxPerUser: 1 });
    await register(passkeys, createSoftAuthenticator({ origin: ORIGIN }));
    expect(await passkeys.registrationOptions({ id: 'u1', name: 'a' }, 's')).toEqual({
      ok: false,
      error: 'PASSKEY_LIMIT',
    });
  });

  it('a mistake in configuration stops start-up with CONFIG_INVALID and the fix', () => {
    const store = createMemoryPasskeyStore();
    const make = (o: object) => () => createPasskeys({ store, rpId: RP, rpName: 'Acme', origins: [ORIGIN], ...o });
    expect(make({ origins: ['http://app.example.com'] })).toThrow(/https \(http only for localhost\)/);
    expect(make({ origins: ['https://example.org'] })).toThrow(/rpId 'example.com' must be example.org/);
    expect(make({ origins: ['https://app.example.com/login'] })).toThrow(/origins only/);
    expect(make({ origins: [] })).toThrow(/non-empty array/);
    expect(make({ rpId: 'https://example.com' })).toThrow(/without scheme or port/);
    expect(make({ store: {} })).toThrow(/PasskeyStore/);
    expect(make({ challengeTtl: 5 })).toThrow(ConfigurationError);
    expect(make({ userVerification: 'discouraged' })).toThrow(ConfigurationError);
    expect(make({ rpid: RP })).toThrow(/rpid/);
    expect(() =>
      createPasskeys({ store, rpId: 'localhost', rpName: 'Dev', origins: ['http://localhost:3000'] }),
    ).not.toThrow();
  });
});
