import { parseOptions } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { createPasswordHasher } from './hash.js';
import { commonPasswords, createPasswordPolicy } from './policy.js';

describe('password hashing (P1)', () => {
  const hasher = createPasswordHasher();

  it('stores argon2id with m ≥ 19456 KiB, t ≥ 2, p = 1 and a unique 16-byte salt', async () => {
    const hashes = await Promise.all(Array.from({ length: 4 }, () => hasher.hash('same password')));
    const salts = new Set<string>();
    for (const stored of hashes) {
      expect(stored.startsWith('$argon2id$v=19$')).toBe(true);
      const p = parseOptions(stored);
      expect(p.memoryCost).toBeGreaterThanOrEqual(19_456);
      expect(p.timeCost).toBeGreaterThanOrEqual(2);
      expect(p.parallelism).toBe(1);
      expect(p.saltLen ?? 16).toBe(16);
      salts.add(stored.split('$')[4] ?? '');
    }
    expect(salts.size).toBe(4);
    expect(new Set(hashes).size).toBe(4);
  });

  it('verifies the right password and refuses a wrong, truncated or extended one', async () => {
    const long = `${'x'.repeat(200)}tail`;
    const stored = await hasher.hash(long);
    expect(await hasher.verify(stored, long)).toEqual({ ok: true, needsRehash: false });
    expect((await hasher.verify(stored, long.slice(0, 200))).ok).toBe(false); // no truncation
    expect((await hasher.verify(stored, `${long}!`)).ok).toBe(false);
    expect((await hasher.verify(stored, `${'X'.repeat(200)}tail`)).ok).toBe(false);
  });

  it('treats the two Unicode spellings of the same password as one (NFKC)', async () => {
    const stored = await hasher.hash('caf\u00e9 au lait');
    expect((await hasher.verify(stored, 'cafe\u0301 au lait')).ok).toBe(true);
  });

  it('asks for a rehash when the stored parameters are weaker than the current ones', async () => {
    const stronger = createPasswordHasher({ memoryCost: 24_576, timeCost: 3 });
    const old = await hasher.hash('correct horse');
    expect(await stronger.verify(old, 'correct horse')).toEqual({ ok: true, needsRehash: true });
    expect(await stronger.verify(old, 'wrong horse')).toEqual({ ok: false, needsRehash: false });
    const fresh = await stronger.hash('correct horse');
    expect(await stronger.verify(fresh, 'correct horse')).toEqual({ ok: true, needsRehash: false });
  });

  it('answers a malformed stored hash with a mismatch, not an exception', async () => {
    for (const bad of ['', 'plain', '$argon2id$v=19$m=1,t=1,p=1$$', '$2b$10$abcdefghijklmnopqrstuv'])
      expect(await hasher.verify(bad, 'anything')).toEqual({ ok: false, needsRehash: false });
  });

  it('spends about as long on an unknown user as on a wrong password (P3)', async () => {
    const stored = await hasher.hash('a real password');
    await hasher.verifyDummy('warm up'); // the dummy hash is made once
    const time = async (work: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        await work();
        samples.push(performance.now() - start);
      }
      return samples.sort((a, b) => a - b)[2] ?? 0;
    };
    const wrong = await time(() => hasher.verify(stored, 'a wrong password'));
    const unknown = await time(() => hasher.verifyDummy('a wrong password'));
    expect(unknown / wrong).toBeGreaterThan(0.5);
    expect(unknown / wrong).toBeLessThan(2);
    expect(await hasher.verifyDummy('anything')).toEqual({ ok: false, needsRehash: false });
  });

  it('refuses parameters below the OWASP minimum at configuration', () => {
    expect(() => createPasswordHasher({ memoryCost: 4096 })).toThrow(ConfigurationError);
    expect(() => createPasswordHasher({ timeCost: 1 })).toThrow(ConfigurationError);
    expect(() => createPasswordHasher({ parallelism: 0 })).toThrow(ConfigurationError);
  });

  it('names a memoryCost given in bytes, and an unknown option', () => {
    expect(() => createPasswordHasher({ memoryCost: 19_456 * 1024 })).toThrow(
      new ConfigurationError('memoryCost is in KiB; 19922944 looks like bytes (use 19456)'),
    );
    expect(() => createPasswordHasher({ memoryCost: 4096 })).toThrow(
      new ConfigurationError('memoryCost must be a whole number of KiB from 19456 to 4194304; got 4096'),
    );
    expect(() => createPasswordHasher({ iterations: 3 } as never)).toThrow(
      /unknown option "iterations"; did you mean "timeCost"\?/,
    );
  });
});

describe('password rules (P2)', () => {
  const policy = createPasswordPolicy();

  it('needs 8 characters, counted as code points, and allows 64 and more', () => {
    expect(policy.check('seven77')).toBe('PASSWORD_TOO_SHORT');
    expect(policy.check('😀😀😀😀😀😀😀')).toBe('PASSWORD_TOO_SHORT'); // 7 code points, 14 UTF-16 units
    expect(policy.check('zebra lamp')).toBeNull();
    expect(policy.check('q'.repeat(64))).toBeNull();
    expect(policy.check('q'.repeat(1024))).toBeNull();
    expect(policy.check('q'.repeat(1025))).toBe('PASSWORD_TOO_LONG');
  });

  it('has no composition rules: lower-case letters and spaces alone are fine', () => {
    expect(policy.check('tall tree by the river')).toBeNull();
    expect(policy.check('onlylowercaseletters')).toBeNull();
  });

  it('refuses common passwords from the shipped list, in any case, and the username', () => {
    expect(commonPasswords().size).toBeGreaterThan(15_000);
    for (const common of ['password', 'PASSWORD', 'Password1', 'qwertyuiop', 'iloveyou', '12345678'])
      expect(policy.check(common)).toBe('PASSWORD_TOO_COMMON');
    expect(policy.check('Marguerite-1987', ['marguerite-1987'])).toBe('PASSWORD_TOO_COMMON');
    expect(policy.check('Marguerite-1987', ['someone else'])).toBeNull();
  });

  it('takes a list of its own and validates its options', () => {
    const own = createPasswordPolicy({ commonPasswords: ['Latchkey2026'], minLength: 10 });
    expect(own.check('latchkey2026')).toBe('PASSWORD_TOO_COMMON');
    expect(own.check('password12')).toBeNull(); // the shipped list is replaced, not merged
    expect(own.check('ninechars')).toBe('PASSWORD_TOO_SHORT');
    expect(() => createPasswordPolicy({ minLength: 6 })).toThrow(ConfigurationError);
    expect(() => createPasswordPolicy({ maxLength: 32 })).toThrow(ConfigurationError);
    expect(() => createPasswordPolicy({ minLenght: 12 } as never)).toThrow(
      /createPasswordPolicy got an unknown option "minLenght"; did you mean "minLength"\?/,
    );
    expect(() => createPasswordPolicy({ commonPasswords: 'password' as never })).toThrow(
      'commonPasswords must be an iterable of strings (an array or a Set)',
    );
  });
});
