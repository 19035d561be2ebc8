import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { createPasswordHasher } from './hash.js';
import { createPasswordLogin } from './login.js';
import { createLoginThrottle } from './throttle.js';

// The floor parameters, hashed once: the real argon2id, no stub.
const hasher = createPasswordHasher();
const PASSWORD = 'correct horse battery staple';

async function setup(extra: { disabled?: boolean; weakHash?: boolean } = {}) {
  const weak = createPasswordHasher();
  const passwordHash = extra.weakHash
    ? // A hash made with lower parameters than today's floor (as an older release stored it).
      (await import('@node-rs/argon2')).hash(PASSWORD, { memoryCost: 8192, timeCost: 1, parallelism: 1, algorithm: 2 })
    : weak.hash(PASSWORD);
  const user = { id: 'u1', name: 'alice', passwordHash: await passwordHash, disabled: extra.disabled === true };
  const lookups: string[] = [];
  const rehashed: string[] = [];
  const login = createPasswordLogin({
    hasher,
    throttle: createLoginThrottle({ freeFailures: 3 }),
    findUser: async (name) => {
      lookups.push(name);
      return name === 'alice' ? user : null;
    },
    canLogIn: (u) => !u.disabled,
    onRehash: (_u, hash) => {
      rehashed.push(hash);
    },
  });
  return { login, user, lookups, rehashed };
}

describe('createPasswordLogin', () => {
  it('the right password gives the user; a wrong one and an unknown name give the same 401', async () => {
    const { login, user } = await setup();
    expect(await login.check({ username: 'alice', password: PASSWORD }, '203.0.113.1')).toEqual({ ok: true, user });
    const wrong = await login.check({ username: 'alice', password: 'nope nope nope' }, '203.0.113.1');
    const unknown = await login.check({ username: 'mallory', password: PASSWORD }, '203.0.113.1');
    expect(wrong).toEqual({ ok: false, error: 'INVALID_CREDENTIALS', headers: {} });
    expect(unknown).toEqual(wrong);
  });

  it('P3: an unknown name costs a verify too (timing within 2× of a wrong password)', async () => {
    const { login } = await setup();
    const time = async (username: string) => {
      const start = performance.now();
      await login.check({ username, password: 'wrong password here' }, `198.51.100.${Math.floor(Math.random() * 200)}`);
      return performance.now() - start;
    };
    await time('alice'); // warm-up
    const known = await time('alice');
    const unknown = await time(`ghost-${Math.random()}`);
    expect(unknown / known).toBeGreaterThan(0.5);
    expect(unknown / known).toBeLessThan(2);
  });

  it('P3: an account whose stored hash is not a hash (SSO-only, locked with "!") costs a verify too', async () => {
    // Apps keep '' for accounts that only sign in through SSO, and lock an account by prefixing
    // its hash with '!' (the shadow-file habit): such a row must not answer faster than no row.
    const hash = await hasher.hash(PASSWORD);
    const rows: Record<string, { id: string; passwordHash: string }> = {
      sso: { id: 's', passwordHash: '' },
      locked: { id: 'l', passwordHash: `!${hash}` },
      bcrypt: { id: 'b', passwordHash: '$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW' },
    };
    const login = createPasswordLogin({
      hasher,
      throttle: createLoginThrottle({ freeFailures: 100 }),
      findUser: async (name) => rows[name] ?? null,
    });
    const time = async (username: string) => {
      const start = performance.now();
      const result = await login.check({ username, password: PASSWORD }, `198.51.100.${username.length}`);
      expect(result).toEqual({ ok: false, error: 'INVALID_CREDENTIALS', headers: {} });
      return performance.now() - start;
    };
    await time('ghost'); // warm-up: the dummy hash is made once
    const unknown = Math.min(await time('ghost'), await time('ghost'));
    for (const name of Object.keys(rows))
      expect(Math.max(await time(name), await time(name)) / unknown, name).toBeGreaterThan(0.5);
  });

  it('P3: a disabled account answers like a wrong password, after the same verify', async () => {
    const { login } = await setup({ disabled: true });
    expect(await login.check({ username: 'alice', password: PASSWORD }, '203.0.113.2')).toEqual({
      ok: false,
      error: 'INVALID_CREDENTIALS',
      headers: {},
    });
  });

  it('P4: a concurrent burst is counted before the check: past the allowance, 429 with Retry-After', async () => {
    const { login, lookups } = await setup();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        login.check({ username: 'alice', password: `guess ${i} guess` }, `192.0.2.${i + 1}`),
      ),
    );
    const throttled = results.filter((r) => !r.ok && r.error === 'TOO_MANY_ATTEMPTS');
    // 3 free failures plus at most 2 checks in flight: the rest never reached the lookup.
    expect(lookups.length).toBeLessThanOrEqual(5);
    expect(throttled.length).toBeGreaterThanOrEqual(15);
    for (const r of throttled) if (!r.ok) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('P4: spellings a lenient lookup matches (spaces, case, accents, full width) count against one account', async () => {
    // findUser as many apps write it (trim, fold case), or as a MySQL _ai_ci / PAD SPACE collation
    // compares: each spelling once got its own free failures against the one account it found.
    const { user } = await setup();
    const fold = (name: string) => name.normalize('NFKD').replace(/\p{M}/gu, '').trim().toLowerCase();
    let checks = 0;
    const login = createPasswordLogin({
      hasher,
      throttle: createLoginThrottle({ freeFailures: 3 }),
      findUser: async (name) => {
        checks++;
        return fold(name) === 'alice' ? user : null;
      },
    });
    const spellings = ['alice', 'alice ', ' Alice', 'ALICE  ', 'alicé', 'Ａｌｉｃｅ', 'älice', 'ALİCE'];
    for (const [i, username] of spellings.entries())
      for (const n of [1, 2])
        await login.check({ username, password: `guess ${i}.${n} guess` }, `192.0.2.${i * 2 + n}`);
    // 3 free failures and one attempt per back-off (a second one only on a machine slow enough
    // for the first 1 s back-off to pass); 16 before, when each spelling counted on its own.
    expect(checks).toBeLessThanOrEqual(5);
  });

  it('credentials of the wrong shape are a 400 and never reach the lookup or the hasher', async () => {
    const { login, lookups } = await setup();
    for (const body of [
      undefined,
      null,
      'alice',
      {},
      { username: 'alice' },
      { username: 1, password: 'x' },
      { username: 'a'.repeat(400), password: 'x' },
    ])
      expect(await login.check(body, '203.0.113.3')).toEqual({ ok: false, error: 'BAD_REQUEST', headers: {} });
    expect(lookups).toEqual([]);
  });

  it('a password longer than any policy allows is refused without hashing it', async () => {
    const { login } = await setup();
    const start = performance.now();
    const result = await login.check({ username: 'alice', password: 'x'.repeat(1_000_000) }, '203.0.113.4');
    expect(result).toMatchObject({ ok: false, error: 'INVALID_CREDENTIALS' });
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it('a hash made with weaker parameters is replaced at the next login', async () => {
    const { login, rehashed } = await setup({ weakHash: true });
    expect((await login.check({ username: 'alice', password: PASSWORD }, '203.0.113.5')).ok).toBe(true);
    expect(rehashed).toHaveLength(1);
    expect(rehashed[0]).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('bad configuration fails at construction with the fix', () => {
    expect(() => createPasswordLogin({} as never)).toThrow(ConfigurationError);
    expect(() => createPasswordLogin({} as never)).toThrow(/findUser/);
    expect(() => createPasswordLogin({ findUser: async () => null, throttel: 1 } as never)).toThrow(
      /did you mean "throttle"/,
    );
  });
});
