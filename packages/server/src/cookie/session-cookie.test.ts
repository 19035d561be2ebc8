import { parseCookie } from 'cookie';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { createCookieReader, serializeExpiredSessionCookie, serializeSessionCookie } from './session-cookie.js';

const options = { name: '__Host-session', sameSite: 'strict', maxAge: 43_200 } as const;
const read = createCookieReader('__Host-session');

describe('session cookie', () => {
  it('C1–C3: is written with __Host- rules, HttpOnly and SameSite=Strict, and no Domain', () => {
    expect(serializeSessionCookie('a.b.c', options)).toBe(
      '__Host-session=a.b.c; Max-Age=43200; Path=/; HttpOnly; Secure; SameSite=Strict',
    );
    expect(serializeSessionCookie('a.b.c', { ...options, sameSite: 'lax' })).toMatch(/; SameSite=Lax$/);
  });

  it('T2: is expired with the same attributes', () => {
    const expired = serializeExpiredSessionCookie(options);
    expect(expired).toMatch(
      /^__Host-session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict$/,
    );
  });

  it('reads our cookie among others', () => {
    expect(read('a=1; __Host-session=x.y.z; b=2')).toEqual({ kind: 'value', value: 'x.y.z' });
    expect(read('__Host-session=x.y.z')).toEqual({ kind: 'value', value: 'x.y.z' });
    expect(read(undefined)).toEqual({ kind: 'none' });
    expect(read('')).toEqual({ kind: 'none' });
    expect(read('a=1; my__Host-session=x')).toEqual({ kind: 'none' });
    expect(read('__Host-sessionX=x')).toEqual({ kind: 'none' });
  });

  it('C5: two session cookies, or a case variant of the name, are ambiguous', () => {
    expect(read('__Host-session=a; __Host-session=b')).toEqual({ kind: 'ambiguous' });
    expect(read('__Host-session=a;__Host-session=a')).toEqual({ kind: 'ambiguous' });
    expect(read('__HOST-session=a')).toEqual({ kind: 'ambiguous' });
    expect(read('__host-SESSION=a; other=1')).toEqual({ kind: 'ambiguous' });
    expect(read('__HOST-session=a; __Host-session=b')).toEqual({ kind: 'ambiguous' });
    expect(read('__Host-session=b; __HOST-session=a')).toEqual({ kind: 'ambiguous' });
  });

  it('never percent-decodes: a token has one spelling', () => {
    expect(read('__Host-session=a%2Eb')).toEqual({ kind: 'value', value: 'a%2Eb' });
  });

  it('finds the cookie among 200 others', () => {
    const many = Array.from({ length: 200 }, (_, i) => `c${i}=${'v'.repeat(20)}`);
    many.splice(150, 0, '__Host-session=t.o.k');
    expect(read(many.join('; '))).toEqual({ kind: 'value', value: 't.o.k' });
  });

  it('a name that is not an RFC 6265 token is a ConfigurationError, not quoted back', () => {
    for (const name of ['bad name', 'a;b', 'a=b', '', 42 as never]) {
      expect(() => createCookieReader(name)).toThrow(ConfigurationError);
    }
    expect(() => createCookieReader('sess=ion')).toThrow(/such as __Host-session$/);
  });

  it('reads values exactly as the cookie package would, over 20,000 random headers (differential)', () => {
    // The reader slices our one pair out instead of parsing the whole header; the cookie package's
    // parse (no decoding) is the reference for every header the reader does not call ambiguous.
    const pieces = [
      '__Host-session',
      '__Host-session=',
      '__host-session',
      '__Host-session2',
      'x__Host-session',
      'a',
      'b',
      ' ',
      '\t',
      '=',
      ';',
      '; ',
      '"',
      'v.1',
      '%41',
      'tok=en',
      '',
    ];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    let compared = 0;
    let onePair = 0;
    for (let i = 0; i < 20_000; i++) {
      const header = Array.from({ length: 1 + random(8) }, () => pieces[random(pieces.length)]).join('');
      const reading = read(header);
      if (reading.kind === 'ambiguous') continue;
      const expected = parseCookie(header, { decode: (v) => v })['__Host-session'];
      expect(reading.kind === 'value' ? reading.value : undefined, JSON.stringify(header)).toBe(expected);
      compared++;
      if (header.startsWith('__Host-session=') && !header.includes(';')) onePair++;
    }
    expect(compared).toBeGreaterThan(10_000);
    expect(onePair).toBeGreaterThan(20); // the one-pair shortcut was compared too
  });

  it('slices the value between the = and the next ;, without the spaces and tabs around it', () => {
    expect(read('__Host-session= \ta.b=c\t ; other=1')).toEqual({ kind: 'value', value: 'a.b=c' });
    expect(read('x=1;__Host-session=')).toEqual({ kind: 'value', value: '' });
    // The header with our one pair only (the shortcut), trimmed the same way.
    expect(read('__Host-session= \tabc.d=e \t')).toEqual({ kind: 'value', value: 'abc.d=e' });
    expect(read('__Host-session=')).toEqual({ kind: 'value', value: '' });
    expect(read('__Host-session2=a; x__Host-session=b')).toEqual({ kind: 'none' });
  });
});
