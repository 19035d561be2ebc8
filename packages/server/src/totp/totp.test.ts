/**
 * TOTP as a second factor (M1): the secret sealed at rest, a code accepted once, the clock window,
 * throttled attempts, single-use recovery codes; then the store contract on memory and on SQLite
 * files shared by two connections.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Secret, TOTP } from 'otpauth';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { createLoginThrottle } from '../password/throttle.js';
import { generateSigningKey } from '../sessions/key-ring.js';
import { MINUTE, manualClock, SECOND } from '../test/clock.js';
import { runTotpStoreConformance } from './conformance.js';
import { createSecretBox } from './secret-box.js';
import { createSqliteTotpStore } from './sqlite.js';
import { createMemoryTotpStore, type TotpStore } from './store.js';
import { createTotp, type Totp, type TotpOptions } from './totp.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-totp-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const CLIENT = '203.0.113.9';

function setup(options: Partial<TotpOptions> = {}) {
  const clock = manualClock();
  const key = generateSigningKey();
  const store = createSqliteTotpStore(new Database(join(dir, `t${files++}.db`)));
  const totp = createTotp({ store, keys: [key], issuer: 'Acme', now: clock.now, ...options });
  /** The code an authenticator app shows `offset` seconds from now. */
  const codeAt = (secret: string, offset = 0) =>
    TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: clock.now() + offset * SECOND });
  /** Enrols and confirms `userId`; the secret and the recovery codes. */
  const enable = async (userId = 'u1') => {
    const started = await totp.enrol(userId, 'ann@example.org');
    if (!started.ok) throw new Error(started.error);
    const done = await totp.confirm(userId, codeAt(started.secret), CLIENT);
    if (!done.ok) throw new Error(done.error);
    clock.advance(30 * SECOND); // the next code
    return { secret: started.secret, recoveryCodes: done.recoveryCodes };
  };
  return { clock, key, store, totp, codeAt, enable };
}

describe('TOTP second factor (M1)', () => {
  it('enrolment: an otpauth URI and a base32 secret, sealed at rest, not a factor until confirmed', async () => {
    const { totp, store } = setup();
    const started = await totp.enrol('u1', 'ann@example.org');
    if (!started.ok) throw new Error('enrol');
    expect(started.secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    expect(started.uri).toBe(
      `otpauth://totp/Acme:ann%40example.org?issuer=Acme&secret=${started.secret}&algorithm=SHA1&digits=6&period=30`,
    );
    const row = await store.get('u1');
    expect(row?.sealedSecret).toMatch(/^v1\.[\w-]{8}\.[\w-]+$/);
    expect(JSON.stringify(row)).not.toContain(started.secret);
    expect(await totp.status('u1')).toEqual({ enabled: false, pending: true, recoveryCodesLeft: 0 });
    expect((await totp.verify('u1', '123456', CLIENT)).ok).toBe(false); // pending is not a factor
  });

  it('confirm takes the first code, turns the factor on, and gives ten recovery codes once', async () => {
    const { totp, codeAt } = setup();
    const started = await totp.enrol('u1', 'ann@example.org');
    if (!started.ok) throw new Error('enrol');
    expect(await totp.confirm('u1', '000000', CLIENT)).toMatchObject({ ok: false, error: 'CODE_INVALID' });
    const done = await totp.confirm('u1', codeAt(started.secret), CLIENT);
    if (!done.ok) throw new Error(done.error);
    expect(done.recoveryCodes).toHaveLength(10);
    for (const code of done.recoveryCodes) expect(code).toMatch(/^[A-HJKMNP-TV-Z2-9]{5}-[A-HJKMNP-TV-Z2-9]{5}$/);
    expect(new Set(done.recoveryCodes).size).toBe(10);
    expect(await totp.status('u1')).toEqual({ enabled: true, pending: false, recoveryCodesLeft: 10 });
    expect(await totp.confirm('u1', codeAt(started.secret), CLIENT)).toMatchObject({ error: 'TOTP_ALREADY_ENABLED' });
    expect(await totp.enrol('u1', 'ann@example.org')).toMatchObject({ ok: false, error: 'TOTP_ALREADY_ENABLED' });
  });

  it('a code is accepted once: the same code again, or the confirming one, is refused (no replay)', async () => {
    const { totp, codeAt, enable, clock } = setup();
    const { secret } = await enable();
    const code = codeAt(secret);
    expect(await totp.verify('u1', code, CLIENT)).toEqual({ ok: true, method: 'totp', recoveryCodesLeft: 10 });
    expect(await totp.verify('u1', code, CLIENT)).toMatchObject({ ok: false, error: 'CODE_INVALID' });
    // An earlier step than the last one accepted is spent too, even inside the window.
    expect(await totp.verify('u1', codeAt(secret, -30), CLIENT)).toMatchObject({ error: 'CODE_INVALID' });
    clock.advance(30 * SECOND);
    expect((await totp.verify('u1', codeAt(secret), CLIENT)).ok).toBe(true);
  });

  it('the clock window: one step either side is accepted, two are not', async () => {
    const { totp, codeAt, enable, clock } = setup();
    const { secret } = await enable();
    clock.advance(10 * MINUTE);
    expect((await totp.verify('u1', codeAt(secret, -65), CLIENT)).ok).toBe(false); // 2+ steps behind
    expect((await totp.verify('u1', codeAt(secret, -30), CLIENT)).ok).toBe(true); // the phone is slow
    expect((await totp.verify('u1', codeAt(secret, 30), CLIENT)).ok).toBe(true); // the phone is fast
    expect((await totp.verify('u1', codeAt(secret, 90), CLIENT)).ok).toBe(false);
  });

  it('of two concurrent requests with one code, exactly one gets in', async () => {
    const { totp, codeAt, enable } = setup();
    const { secret } = await enable();
    const code = codeAt(secret);
    const results = await Promise.all(Array.from({ length: 6 }, () => totp.verify('u1', code, CLIENT)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('recovery codes: each works once, typed in any case with or without the dash; regenerating ends the old ones', async () => {
    const { totp, enable } = setup();
    const { recoveryCodes } = await enable();
    const [first, second] = recoveryCodes as [string, string];
    expect(await totp.verify('u1', first.toLowerCase().replace('-', ' '), CLIENT)).toEqual({
      ok: true,
      method: 'recovery',
      recoveryCodesLeft: 9,
    });
    expect(await totp.verify('u1', first, CLIENT)).toMatchObject({ ok: false, error: 'CODE_INVALID' });
    const fresh = await totp.regenerateRecoveryCodes('u1');
    expect(fresh).toHaveLength(10);
    expect(await totp.verify('u1', second, CLIENT)).toMatchObject({ ok: false, error: 'CODE_INVALID' });
    expect((await totp.verify('u1', fresh?.[0], CLIENT)).ok).toBe(true);
    expect(await totp.regenerateRecoveryCodes('nobody')).toBeNull();
  });

  it('recovery codes are kept as keyed hashes bound to the user: a copied database gives nothing to search', async () => {
    const { totp, store, key, enable, clock } = setup();
    const { recoveryCodes } = await enable('u1');
    const stored = (await store.get('u1'))?.recoveryHashes ?? [];
    const code = (recoveryCodes[0] as string).replace('-', '');
    const { createHash } = await import('node:crypto');
    for (const plain of [code, `latchkey recovery ${code}`, `u1\u0000${code}`])
      expect(stored).not.toContain(createHash('sha256').update(plain).digest('base64url'));
    // The same code for another user would be stored differently: hashes are bound to the account.
    await enable('u2');
    const others = (await store.get('u2'))?.recoveryHashes ?? [];
    expect(others.some((h) => stored.includes(h))).toBe(false);
    // A new key first, the old one after: codes made under the old key still work, once.
    const rotated = createTotp({ store, keys: [generateSigningKey(), key], issuer: 'Acme', now: clock.now });
    expect((await rotated.verify('u1', recoveryCodes[1], CLIENT)).ok).toBe(true);
    expect((await rotated.verify('u1', recoveryCodes[1], CLIENT)).ok).toBe(false);
    expect((await totp.status('u1')).recoveryCodesLeft).toBe(9);
  });

  it('attempts are throttled per account like passwords: after 5 free failures the back-off holds even the right code', async () => {
    const throttle = createLoginThrottle();
    const { totp, codeAt, enable } = setup({ throttle });
    const { secret } = await enable();
    for (let i = 0; i < 6; i++) expect((await totp.verify('u1', '000000', CLIENT)).ok).toBe(false);
    const refused = await totp.verify('u1', codeAt(secret), CLIENT);
    expect(refused).toMatchObject({
      ok: false,
      error: 'TOO_MANY_ATTEMPTS',
      headers: { 'retry-after': expect.stringMatching(/^\d+$/) },
    });
    // Another account is not slowed down.
    const other = await enable('u2');
    expect((await totp.verify('u2', codeAt(other.secret), CLIENT)).ok).toBe(true);
  });

  it('malformed input is a wrong code, never an error: not a string, too long, letters', async () => {
    const { totp, enable } = setup();
    await enable();
    for (const bad of [undefined, null, 123456, {}, ['123456'], 'x'.repeat(10_000), '12345', '1234567', 'abcdef'])
      expect(await totp.verify('u1', bad, CLIENT)).toMatchObject({
        ok: false,
        error: expect.stringMatching(/^(?:CODE_INVALID|TOO_MANY_ATTEMPTS)$/), // each counts as an attempt
      });
    expect(await totp.verify('nobody', '123456', CLIENT)).toMatchObject({ ok: false, error: 'TOTP_NOT_ENABLED' });
  });

  it('an enrolment waits 10 minutes for its code, then must start again', async () => {
    const { totp, codeAt, clock } = setup();
    const started = await totp.enrol('u1', 'ann');
    if (!started.ok) throw new Error('enrol');
    clock.advance(11 * MINUTE);
    expect(await totp.confirm('u1', codeAt(started.secret), CLIENT)).toMatchObject({ error: 'ENROLMENT_EXPIRED' });
  });

  it('the sealed secret opens only for its user and with the keys; keys rotate', async () => {
    const { totp, store, key, codeAt, enable, clock } = setup();
    const { secret } = await enable('u1');
    await enable('u2');
    // A row copied onto another user's (an attacker with write access to one column) does not open.
    const u1 = await store.get('u1');
    const u2 = await store.get('u2');
    await store.reseal('u2', u2?.sealedSecret as string, u1?.sealedSecret as string);
    expect((await totp.verify('u2', codeAt(secret), CLIENT)).ok).toBe(false);
    // A new key first, the old one after: old secrets still open, and a good code re-seals the
    // secret under the new key, so the old key can leave the ring. Without any key of it, nothing opens.
    const newKey = generateSigningKey();
    const rotated = createTotp({ store, keys: [newKey, key], issuer: 'Acme', now: clock.now });
    expect((await rotated.verify('u1', codeAt(secret), CLIENT)).ok).toBe(true);
    expect((await store.get('u1'))?.sealedSecret).not.toBe(u1?.sealedSecret);
    clock.advance(30 * SECOND);
    const newOnly = createTotp({ store, keys: [newKey], issuer: 'Acme', now: clock.now });
    expect((await newOnly.verify('u1', codeAt(secret), CLIENT)).ok).toBe(true);
    clock.advance(30 * SECOND);
    const lost = createTotp({ store, keys: [generateSigningKey()], issuer: 'Acme', now: clock.now });
    expect((await lost.verify('u1', codeAt(secret), CLIENT)).ok).toBe(false);
    const box = createSecretBox([key], 'totp');
    expect(box.open(u1?.sealedSecret as string, 'u1')).toBe(secret);
    expect(box.isNewest(u1?.sealedSecret as string)).toBe(true);
    expect(createSecretBox([newKey, key], 'totp').isNewest(u1?.sealedSecret as string)).toBe(false);
    expect(createSecretBox([key], 'other purpose').open(u1?.sealedSecret as string, 'u1')).toBeNull();
  });

  it('a re-enrolment landing between the check of the confirming code and its write does not turn on a secret the app does not hold', async () => {
    const clock = { t: 1_800_000_000_000 };
    const inner = createMemoryTotpStore();
    let totp: Totp | undefined;
    // The store as a racing request sees it: right before the confirmation is written, another
    // request (a double click on "set up") starts a new enrolment with a new secret.
    const racing: TotpStore = {
      ...inner,
      confirm: async (...args) => {
        await totp?.enrol('u1', 'ann@example.org');
        return inner.confirm(...args);
      },
    };
    totp = createTotp({ store: racing, keys: [generateSigningKey()], issuer: 'Acme', now: () => clock.t });
    const first = (await totp.enrol('u1', 'ann@example.org')) as { secret: string };
    const code = TOTP.generate({ secret: Secret.fromBase32(first.secret), timestamp: clock.t });
    const done = await totp.confirm('u1', code, CLIENT);
    expect(done.ok).toBe(false);
    expect((await totp.status('u1')).enabled).toBe(false);
  });

  it('disable forgets the secret and the codes', async () => {
    const { totp, store, enable } = setup();
    await enable();
    expect(await totp.disable('u1')).toBe(true);
    expect(await store.get('u1')).toBeNull();
    expect(await totp.status('u1')).toEqual({ enabled: false, pending: false, recoveryCodesLeft: 0 });
  });

  it('a QR code is an SVG made here', async () => {
    const { totp } = setup();
    const started = await totp.enrol('u1', 'ann');
    if (!started.ok) throw new Error('enrol');
    const svg = await totp.qrCode(started.uri);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.match(/https?:\/\//g)).toEqual(['http://']); // the SVG namespace, no link to any service
  });

  it('bad configuration fails at start-up with a sentence', () => {
    const store = createMemoryTotpStore();
    const keys = [generateSigningKey()];
    expect(() => createTotp({ store, keys, issuer: 'A:B' })).toThrow(/issuer/);
    expect(() => createTotp({ store, keys, issuer: 'Acme', window: 5 })).toThrow(/window/);
    expect(() => createTotp({ store, keys: [], issuer: 'Acme' })).toThrow(/signing key/);
    expect(() => createTotp({ store: {} as never, keys, issuer: 'Acme' })).toThrow(ConfigurationError);
    expect(() => createTotp({ store: {} as never, keys, issuer: 'Acme' })).toThrow(/TotpStore/);
    expect(() => createTotp({ store, keys, issuer: 'Acme', windw: 1 } as never)).toThrow(/did you mean "window"/);
  });
});

runTotpStoreConformance({
  name: 'memory',
  createStore: () => createMemoryTotpStore(),
  describe,
  it,
  beforeEach,
  afterEach,
});

const opened = new Map<TotpStore, Database.Database>();
runTotpStoreConformance({
  name: 'sqlite (two connections to one file)',
  createStore: () => {
    const db = new Database(join(dir, `c${files++}.db`));
    const store = createSqliteTotpStore(db);
    opened.set(store, db);
    return store;
  },
  createPeer: (store) => {
    const db = new Database((opened.get(store) as Database.Database).name);
    const peer = createSqliteTotpStore(db);
    opened.set(peer, db);
    return peer;
  },
  destroyStore: (store) => opened.get(store)?.close(),
  describe,
  it,
  beforeEach,
  afterEach,
});
