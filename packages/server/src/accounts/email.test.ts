/**
 * normalizeEmail: the one form accounts are stored and found by. Attack cases: header injection,
 * over-long and non-ASCII addresses, look-alike spellings of one address.
 */
import { describe, expect, it } from 'vitest';
import { normalizeEmail } from './email.js';

describe('normalizeEmail', () => {
  it('one address, one form: spaces trimmed, domain and local part lower-cased', () => {
    for (const spelling of ['alice@example.com', ' Alice@Example.COM ', 'ALICE@EXAMPLE.COM', 'alice@EXAMPLE.com'])
      expect(normalizeEmail(spelling)).toBe('alice@example.com');
    // Dots and +tags mean different things at different providers: kept.
    expect(normalizeEmail('a.lice+news@example.com')).toBe('a.lice+news@example.com');
  });

  it('a line break anywhere is refused, at the ends too (header injection)', () => {
    for (const value of [
      'a@example.com\r\nBcc: victim@example.org',
      'a@example.com\nBcc: victim@example.org',
      'a@example.com\r\n',
      '\r\na@example.com',
      'a\r@example.com',
      'a@exa\nmple.com',
      'a@example.com\u2028',
      'a@example.com\u0000',
      'a\u200b@example.com', // zero-width space
      'a\u202e@example.com', // right-to-left override
    ])
      expect(normalizeEmail(value)).toBeNull();
  });

  it('two addresses, a display name, quotes, an IP literal, a dotless domain: refused', () => {
    for (const value of [
      'a@example.com, b@example.com',
      'a@example.com;b@example.com',
      'a@b@example.com',
      'Bank <a@example.com>',
      '"a b"@example.com',
      'a@[192.0.2.1]',
      'a@192.0.2.1',
      'a@localhost',
      'a@-example.com',
      '.a@example.com',
      'a..b@example.com',
      'a@',
      '@example.com',
      '',
      'not an address',
    ])
      expect(normalizeEmail(value)).toBeNull();
    for (const value of [undefined, null, 42, {}, ['a@example.com']]) expect(normalizeEmail(value)).toBeNull();
  });

  it('over-long addresses are refused (RFC 5321: 64 octets before the @, 254 in all), fast even for megabytes', () => {
    const domain = `${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(59)}.example`; // 189 octets
    expect(normalizeEmail(`${'a'.repeat(64)}@example.com`)).toBe(`${'a'.repeat(64)}@example.com`);
    expect(normalizeEmail(`${'a'.repeat(65)}@example.com`)).toBeNull();
    expect(normalizeEmail(`${'a'.repeat(64)}@${domain}`)).toBe(`${'a'.repeat(64)}@${domain}`); // 254 octets
    expect(normalizeEmail(`${'a'.repeat(64)}@x${domain}`)).toBeNull(); // 255
    // Octets, not characters: 32 two-octet letters fill the local part; 33 overflow it.
    expect(normalizeEmail(`${'é'.repeat(32)}@example.com`)).not.toBeNull();
    expect(normalizeEmail(`${'é'.repeat(33)}@example.com`)).toBeNull();
    const start = performance.now();
    expect(normalizeEmail(`${'a'.repeat(10_000_000)}@example.com`)).toBeNull();
    expect(performance.now() - start).toBeLessThan(100);
  });

  it('non-ASCII addresses: accepted, the domain in its ASCII form, composed and decomposed spellings alike', () => {
    expect(normalizeEmail('Zoë@Bücher.example')).toBe('zoë@xn--bcher-kva.example');
    expect(normalizeEmail('zoë@xn--bcher-kva.example')).toBe('zoë@xn--bcher-kva.example');
    // "ë" as one code point (NFC) and as "e" + a combining diaeresis (NFD): one account.
    expect(normalizeEmail('Zoe\u0308@bücher.example')).toBe(normalizeEmail('Zo\u00eb@bücher.example'));
    // Full-width letters in the domain are mapped (UTS #46).
    expect(normalizeEmail('a@ｅｘａｍｐｌｅ.com')).toBe('a@example.com');
    expect(normalizeEmail('用户@例子.广告')).toBe('用户@xn--fsqu00a.xn--4rr70v');
  });

  it('lower case that grows past the limit is checked anew', () => {
    // "İ" is 2 octets; lower-cased it is "i̇", 3 octets: 32 of them fit as typed, not once folded.
    expect(normalizeEmail(`${'İ'.repeat(32)}@example.com`)).toBeNull();
    expect(normalizeEmail(`${'İ'.repeat(21)}@example.com`)).toBe(`${'i̇'.repeat(21)}@example.com`);
  });
});
