import { describe, expect, it } from 'vitest';
import { KeyError } from '../errors.js';
import { createKeyRing, generateSigningKey, MIN_KEY_BYTES } from './key-ring.js';
import { generateTokenParts, signToken, verifyToken } from './token.js';

const keyA = generateSigningKey();
const keyB = generateSigningKey();

describe('session token', () => {
  it('S1: 10,000 tokens are unique and each carries 128 + 128 random bits', () => {
    const ring = createKeyRing([keyA]);
    const ids = new Set<string>();
    const secrets = new Set<string>();
    let ones = 0;
    for (let i = 0; i < 10_000; i++) {
      const parts = generateTokenParts();
      const token = signToken(parts, ring);
      expect(token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
      const id = Buffer.from(parts.id, 'base64url');
      const secret = Buffer.from(parts.secret, 'base64url');
      expect(id.length).toBe(16);
      expect(secret.length).toBe(16);
      ids.add(parts.id);
      secrets.add(parts.secret);
      for (const byte of Buffer.concat([id, secret])) {
        for (let b = byte; b; b >>= 1) ones += b & 1;
      }
    }
    expect(ids.size).toBe(10_000);
    expect(secrets.size).toBe(10_000);
    // 2,560,000 random bits: about half are ones (σ ≈ 800, so ±0.5% is over 15σ).
    expect(Math.abs(ones / 2_560_000 - 0.5)).toBeLessThan(0.005);
  });

  it('S2: the token holds only id, secret and mac, nothing with meaning', () => {
    const token = signToken(generateTokenParts(), createKeyRing([keyA]));
    const pieces = token.split('.');
    expect(pieces).toHaveLength(3);
    expect(pieces.map((p) => Buffer.from(p, 'base64url').length)).toEqual([16, 16, 32]);
  });

  it('verifies its own tokens and returns their parts', () => {
    const ring = createKeyRing([keyA]);
    const parts = generateTokenParts();
    expect(verifyToken(signToken(parts, ring), ring)).toEqual(parts);
  });

  it('S3: every single-byte change of a valid token is rejected', () => {
    const ring = createKeyRing([keyA]);
    const token = signToken(generateTokenParts(), ring);
    let tried = 0;
    for (let i = 0; i < token.length; i++) {
      for (let c = 0; c < 256; c++) {
        if (c === token.charCodeAt(i)) continue;
        const changed = token.slice(0, i) + String.fromCharCode(c) + token.slice(i + 1);
        expect(verifyToken(changed, ring)).toBeNull();
        tried++;
      }
    }
    expect(tried).toBe(89 * 255);
  });

  it('rejects truncated, extended and empty tokens', () => {
    const ring = createKeyRing([keyA]);
    const token = signToken(generateTokenParts(), ring);
    for (let n = 0; n < token.length; n++) expect(verifyToken(token.slice(0, n), ring)).toBeNull();
    expect(verifyToken(`${token}A`, ring)).toBeNull();
    expect(verifyToken(`${token}.`, ring)).toBeNull();
  });

  it('S3: a token signed with another key is rejected', () => {
    const token = signToken(generateTokenParts(), createKeyRing([keyB]));
    expect(verifyToken(token, createKeyRing([keyA]))).toBeNull();
  });

  it('key rotation: the newest key signs, a rotated-out key still verifies until dropped', () => {
    const old = signToken(generateTokenParts(), createKeyRing([keyA]));
    const rotated = createKeyRing([keyB, keyA]);
    expect(verifyToken(old, rotated)).not.toBeNull();
    const fresh = signToken(generateTokenParts(), rotated);
    expect(verifyToken(fresh, createKeyRing([keyB]))).not.toBeNull();
    expect(verifyToken(fresh, createKeyRing([keyA]))).toBeNull();
    expect(verifyToken(old, createKeyRing([keyB]))).toBeNull();
  });

  it('J4: refuses keys shorter than 32 bytes, passphrases and empty rings', () => {
    expect(() => createKeyRing([new Uint8Array(MIN_KEY_BYTES - 1)])).toThrow(KeyError);
    expect(() => createKeyRing([Buffer.alloc(31).toString('base64url')])).toThrow(/31 bytes/);
    expect(() => createKeyRing(['correct horse battery staple and some more words'])).toThrow(/base64url/);
    expect(() => createKeyRing([])).toThrow(KeyError);
    expect(() => createKeyRing([42 as unknown as string])).toThrow(KeyError);
    expect(createKeyRing([new Uint8Array(32)])).toBeTruthy();
  });
});
