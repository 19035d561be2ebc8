import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors.js';
import { checkAddress, parseAddress } from './address.js';
import { checkMailMessage } from './message.js';

const refused = (value: unknown) => {
  const parsed = parseAddress(value);
  return parsed.ok ? `accepted as ${parsed.address}` : parsed.problem;
};

describe('parseAddress', () => {
  it('accepts plain addresses and gives their normal form: domain lowercased, local part as typed', () => {
    expect(parseAddress('ann@example.com')).toEqual({
      ok: true,
      address: 'ann@example.com',
      local: 'ann',
      domain: 'example.com',
    });
    expect(parseAddress('  Ann.Lee+news@Mail.Example.COM ')).toMatchObject({
      address: 'Ann.Lee+news@mail.example.com',
    });
    expect(parseAddress("o'hara/x=y_z!#$%&*?^`{|}~-@a-b.example.org")).toMatchObject({ ok: true });
  });

  it('turns an internationalised domain into punycode, and keeps a non-ASCII local part (RFC 6531)', () => {
    expect(parseAddress('jörg@bücher.example')).toEqual({
      ok: true,
      address: 'jörg@xn--bcher-kva.example',
      local: 'jörg',
      domain: 'xn--bcher-kva.example',
    });
    expect(parseAddress('δοκιμή@παράδειγμα.δοκιμή')).toMatchObject({
      address: 'δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp',
    });
    // Full-width letters map to ASCII (UTS #46), so one mailbox has one normal form.
    expect(parseAddress('ann@ｅｘａｍｐｌｅ.com')).toMatchObject({ address: 'ann@example.com' });
    // NFC: "é" typed as e + combining accent is the same local part as the precomposed one.
    expect(parseAddress('re\u0301my@example.com')).toMatchObject({ local: 'r\u00e9my' });
  });

  it('refuses every header-injection spelling (CR, LF, NUL, Unicode line separators) before trimming', () => {
    for (const value of [
      'a@b.example\r\nBcc: x@y.example',
      'a@b.example\nBcc: x@y.example',
      'a@b.example\rBcc: x@y.example',
      'a@b.example\r\n',
      'a@b.example\u0000',
      'a\t@b.example',
      'a@b.example\u2028Bcc: x@y.example',
      'a@b.example\u0085',
      // Invisible formatting that disguises an address: a right-to-left override, a zero-width space.
      'moc.elpmaxe@\u202eann',
      'an\u200bn@example.com',
    ]) {
      expect(refused(value), JSON.stringify(value)).toBe('control-character');
    }
  });

  it('refuses display names, quotes, comments, several addresses and IP literals', () => {
    expect(refused('Bank <evil@attacker.example>')).toBe('display-name');
    expect(refused('"ann"@example.com')).toBe('display-name');
    expect(refused('"a@b.example"@attacker.example')).toBe('display-name');
    expect(refused('ann@example.com (Ann)')).toBe('display-name');
    expect(refused('ann@[127.0.0.1]')).toBe('display-name');
    expect(refused('a@b.example, x@y.example')).toBe('several-addresses');
    expect(refused('a@b.example;x@y.example')).toBe('several-addresses');
    expect(refused('a@b.example x@y.example')).toBe('several-addresses');
    expect(refused('a@b@y.example')).toBe('several-addresses');
  });

  it('refuses an RFC 2047 encoded word, which a decoding parser would read as another mailbox', () => {
    // "Splitting the email atom": a mail library or server that decodes it (against RFC 2047 §5)
    // delivers to attacker@evil.example what the app stored as an address at victim.example.
    for (const value of [
      '=?x?q?attacker=40evil.example=3e=00?=@victim.example',
      '=?utf-8?B?YXR0YWNrZXJAZXZpbC5leGFtcGxl?=@victim.example',
      'ann=?utf-8?q?=2C?=bob@victim.example',
      '=?UTF-8?Q?x?=@victim.example',
    ])
      expect(refused(value), value).toBe('display-name');
    expect(parseAddress('a=b?c@example.com').ok).toBe(true); // = and ? alone are atext
  });

  it('refuses what is not name@domain', () => {
    for (const [value, problem] of [
      [undefined, 'not-a-string'],
      [['a@b.example'], 'not-a-string'],
      ['', 'empty'],
      ['   ', 'empty'],
      ['ann', 'malformed'],
      ['@example.com', 'malformed'],
      ['ann@', 'malformed'],
      ['a nn@example.com', 'malformed'],
      ['a\u00a0nn@example.com', 'malformed'],
      ['.ann@example.com', 'malformed'],
      ['ann.@example.com', 'malformed'],
      ['a..nn@example.com', 'malformed'],
      ['ann@localhost', 'bad-domain'],
      ['ann@127.0.0.1', 'bad-domain'],
      ['ann@0x7f.1', 'bad-domain'],
      ['ann@-example.com', 'bad-domain'],
      ['ann@example-.com', 'bad-domain'],
      ['ann@exa_mple.com', 'bad-domain'],
      ['ann@example..com', 'bad-domain'],
      ['ann@example.com.', 'bad-domain'],
      ['ann@xn--zz.example', 'bad-domain'],
      [`ann@${'a'.repeat(64)}.example`, 'bad-domain'],
    ] as const) {
      expect(refused(value), JSON.stringify(value)).toBe(problem);
    }
  });

  it('holds SMTP to its limits: 64 octets before the @, 254 in all, counted in UTF-8 octets', () => {
    expect(parseAddress(`${'a'.repeat(64)}@example.com`)).toMatchObject({ ok: true });
    expect(refused(`${'a'.repeat(65)}@example.com`)).toBe('local-part-too-long');
    expect(refused(`${'é'.repeat(33)}@example.com`)).toBe('local-part-too-long'); // 33 characters, 66 octets
    const domain = `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(53)}.example`;
    const longest = `${'a'.repeat(64)}@${domain}`;
    expect(longest.length).toBe(254);
    expect(parseAddress(longest)).toMatchObject({ ok: true, address: longest });
    expect(refused(`${'a'.repeat(64)}@f${domain}`)).toBe('too-long');
    expect(refused(`${'a'.repeat(10_000)}@example.com`)).toBe('too-long');
    // Short enough as typed (232 characters), too long once the domain is punycode (276 octets).
    const label = `${'ü'.repeat(20)}${'x'.repeat(20)}`;
    const unicode = `${'a'.repeat(60)}@${label}.${label}.${label}.${label}.example`;
    expect(unicode.length).toBeLessThan(254);
    expect(refused(unicode)).toBe('too-long');
    // A label of 60 characters is 70 once in punycode: over DNS's 63.
    expect(refused(`ann@${'ü'.repeat(60)}.example`)).toBe('bad-domain');
  });
});

describe('checkAddress', () => {
  it('returns the normal form, or throws InvalidArgumentError naming the field and the problem, never the value', () => {
    expect(checkAddress('Ann@Example.com', 'to')).toBe('Ann@example.com');
    const attack = 'victim@example.com\r\nBcc: everyone@attacker.example';
    expect(() => checkAddress(attack, 'to')).toThrow(InvalidArgumentError);
    try {
      checkAddress(attack, 'to');
    } catch (error) {
      expect((error as Error).message).toMatch(/^to is not a usable e-mail address: it holds a line break/);
      expect((error as Error).message).not.toMatch(/victim|attacker|Bcc/);
    }
    expect(() => checkAddress('Support <help@attacker.example>')).toThrow(/^address is not .* display name/);
  });
});

describe('checkMailMessage', () => {
  const ok = { to: 'ann@example.com', subject: 'Hello', text: 'Hi' };

  it('returns the message with its address in normal form, and nothing else', () => {
    expect(checkMailMessage({ ...ok, to: 'ann@BÜCHER.example', html: '<p>Hi</p>' })).toEqual({
      to: 'ann@xn--bcher-kva.example',
      subject: 'Hello',
      text: 'Hi',
      html: '<p>Hi</p>',
    });
  });

  it('refuses a line break in the subject, extra recipients, and bodies that are not strings or too big', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...ok, subject: 'Hi\r\nBcc: x@attacker.example' }, /^subject holds a line break/],
      [{ ...ok, subject: 'Hi\nthere' }, /^subject holds a line break/],
      [{ ...ok, subject: 'Hi\u2028there' }, /^subject holds a line break/],
      [{ ...ok, subject: '' }, /^subject must be a non-empty string/],
      [{ ...ok, subject: 'x'.repeat(999) }, /^subject is longer than 998/],
      [{ ...ok, bcc: 'x@attacker.example' }, /has "bcc" it does not take/],
      [{ ...ok, to: 'a@b.example, x@attacker.example' }, /^to is not .* more than one address/],
      [{ ...ok, text: undefined }, /^text must be a string; got undefined/],
      [{ ...ok, html: 42 }, /^html must be a string; got a number/],
      [{ ...ok, text: 'x'.repeat(1_048_577) }, /^text is larger than 1048576 bytes/],
      [null, /must be an object/],
    ];
    for (const [message, expected] of cases) {
      expect(() => checkMailMessage(message as never), JSON.stringify(message)?.slice(0, 80)).toThrow(expected);
    }
    // Never the attacker's text in the message.
    expect(() => checkMailMessage({ ...ok, subject: 'Hi\r\nBcc: x@attacker.example' })).not.toThrow(/attacker/);
  });
});
