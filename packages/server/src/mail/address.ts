/**
 * One e-mail address, checked before it goes near a mail header: the single check every `to` and
 * `from` in `latchkey/mail` passes through, and the one a sign-up form should use on what the user
 * typed. An address that could add a header (a line break: `a@b.c\r\nBcc: x@y.z`), name a second
 * recipient, hide behind a display name, or overflow SMTP's limits is refused; an internationalised
 * domain is accepted and turned into its ASCII (punycode) form.
 *
 * The grammar is the HTML standard's "valid e-mail address" (a deliberate subset of RFC 5322:
 * no quoted local parts, no comments, no encoded words, no IP literals), with RFC 6531's non-ASCII
 * letters allowed in the local part and RFC 5321's limits on length. Problems are named, never
 * quoted: the address may be an attacker's payload, and it is personal data either way.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { InvalidArgumentError } from '../errors.js';

/**
 * Why `parseAddress` refused a value; `describeAddressProblem` says it in a sentence.
 *
 * @example
 * const parsed = parseAddress(input);
 * if (!parsed.ok && parsed.problem === 'control-character') metrics.increment('mail.injection_attempt');
 */
export type AddressProblem =
  | 'not-a-string'
  | 'empty'
  | 'control-character'
  | 'too-long'
  | 'local-part-too-long'
  | 'several-addresses'
  | 'display-name'
  | 'malformed'
  | 'bad-domain';

/**
 * What `parseAddress` answers: the address in the form to send to and compare (`local@domain`,
 * the domain in lowercase ASCII), or the problem.
 *
 * @example
 * const parsed: ParsedAddress = parseAddress('Ann@Bücher.example');
 * if (parsed.ok) parsed.domain; // 'xn--bcher-kva.example'
 */
export type ParsedAddress =
  | { ok: true; address: string; local: string; domain: string }
  | { ok: false; problem: AddressProblem };

// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets. §4.5.3.1.3: a path is at most 256
// octets with its angle brackets, so an address is at most 254 (RFC 3696 erratum 1690).
const MAX_ADDRESS_OCTETS = 254;
const MAX_LOCAL_OCTETS = 64;

// C0 and C1 controls (CR, LF, NUL, TAB, DEL…), invisible format characters (bidi overrides,
// zero-width characters) and the Unicode line and paragraph separators: a line break ends a
// header and starts another one (header injection); the rest disguise what an address says.
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
// What only a display name, a quoted local part or a comment needs: `Bank <a@b.c>`, `"x"@b.c`, `a@b.c (x)`.
const DISPLAY_NAME = /[<>"()[\]\\]/;
// An RFC 2047 encoded word (`=?utf-8?q?…?=`) belongs in a display name, never in an address (RFC
// 2047 §5); a mail library or server that decodes it anyway reads `=?x?q?me=40evil.example?=@b.c`
// as another mailbox than the one the app stored ("splitting the email atom").
const ENCODED_WORD = /=\?.*\?=/;
// RFC 5322 §3.2.3: atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"; RFC 6531 §3.3 adds UTF8-non-ascii,
// of which we take letters, marks and digits only (no spaces, symbols or punctuation look-alikes).
const ATOM = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~-]+$/u;
// RFC 1035 §2.3.1 as amended by RFC 1123 §2.1: letters, digits and hyphens, no hyphen at either end, 63 octets at most.
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const octets = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Checks one e-mail address and returns its normal form, or the problem. Spaces around it are
 * trimmed; the domain is lowercased and converted to ASCII (`bücher.example` →
 * `xn--bcher-kva.example`); the local part is kept as typed (NFC), since only the receiving
 * server may say whether `Ann` and `ann` are the same mailbox. Use it on a sign-up form's input:
 * an address it refuses is one latchkey/mail would refuse to send to.
 *
 * @example
 * const parsed = parseAddress(body.email);
 * if (!parsed.ok) return reply.code(400).send({ error: 'INVALID_EMAIL', problem: parsed.problem });
 * const email = parsed.address; // store and look up this form
 */
export function parseAddress(value: unknown): ParsedAddress {
  const fail = (problem: AddressProblem): ParsedAddress => ({ ok: false, problem });
  if (typeof value !== 'string') return fail('not-a-string');
  // Checked before trimming: `a@b.c\r\n` is an injection attempt, not a typo to tidy up.
  if (CONTROL.test(value)) return fail('control-character');
  const v = value.replace(/^ +| +$/g, '');
  if (v === '') return fail('empty');
  // No valid address is longer (each UTF-16 unit is at least one octet); this also bounds the work below.
  if (v.length > MAX_ADDRESS_OCTETS) return fail('too-long');
  if (DISPLAY_NAME.test(v) || ENCODED_WORD.test(v)) return fail('display-name');
  const at = v.split('@').length - 1;
  if (/[,;]/.test(v) || at > 1) return fail('several-addresses');
  if (at === 0 || /\s/u.test(v)) return fail('malformed');

  const split = v.lastIndexOf('@');
  const local = v.slice(0, split).normalize('NFC');
  const unicodeDomain = v.slice(split + 1).normalize('NFC');
  if (local === '' || unicodeDomain === '') return fail('malformed');
  if (octets(local) > MAX_LOCAL_OCTETS) return fail('local-part-too-long');
  // Dot-atom (RFC 5322 §3.2.3): no dot at either end, never two in a row.
  if (!local.split('.').every((atom) => ATOM.test(atom))) return fail('malformed');

  // UTS #46 (the WHATWG URL standard's host parsing): maps full-width and upper-case letters,
  // turns Unicode labels into punycode, and answers '' for what cannot be a domain.
  const domain = domainToASCII(unicodeDomain);
  const labels = domain.split('.');
  if (
    domain === '' ||
    domain.length > 253 ||
    // A dotless name (`localhost`, an intranet host) is not an address on the Internet (ICANN SAC053).
    labels.length < 2 ||
    !labels.every((label) => LABEL.test(label)) ||
    // A punycode label must decode. Node 20 maps `xn--zz` to '' above; Node 24 passes it through
    // unchanged, and answers it unchanged from domainToUnicode too: refuse both the same way.
    labels.some((label) => label.startsWith('xn--') && [label, ''].includes(domainToUnicode(label))) ||
    // RFC 3696 §2: a top-level domain is never all digits, so this refuses IPv4 in any spelling (`0x7f.1`).
    /^[0-9]+$/.test(labels[labels.length - 1] as string)
  ) {
    return fail('bad-domain');
  }
  const address = `${local}@${domain}`;
  if (octets(address) > MAX_ADDRESS_OCTETS) return fail('too-long');
  return { ok: true, address, local, domain };
}

const EXPLAIN: Record<AddressProblem, string> = {
  'not-a-string': 'is not a string',
  empty: 'is empty',
  'control-character':
    'holds a line break or another control or invisible character, which could add mail headers (header injection)',
  'too-long': `is longer than ${MAX_ADDRESS_OCTETS} octets, SMTP's limit (RFC 5321)`,
  'local-part-too-long': `has more than ${MAX_LOCAL_OCTETS} octets before the @, SMTP's limit (RFC 5321)`,
  'several-addresses':
    'holds more than one address (a comma, a semicolon or a second @): send one message per recipient',
  'display-name':
    'holds a display name, quotes, angle brackets, a comment or an encoded word (=?…?=): give the bare address, name@example.com (a sender name goes in fromName)',
  malformed: 'is not of the form name@example.com (no spaces, no dot at either end of the name or two in a row)',
  'bad-domain': 'has a domain that is not a host name on the Internet (example.com; no IP address, no dotless name)',
};

/**
 * Why an address was refused, as a sentence that names `name` and never quotes the address:
 * `to is not a usable e-mail address: it holds a line break …`.
 *
 * @example
 * const parsed = parseAddress(input);
 * if (!parsed.ok) logger.info(describeAddressProblem('email', parsed.problem));
 */
export function describeAddressProblem(name: string, problem: AddressProblem): string {
  return `${name} is not a usable e-mail address: it ${EXPLAIN[problem]}`;
}

/**
 * `parseAddress` for values that must already be valid (a message's `to`, a configured `from`):
 * the normal form, or an `InvalidArgumentError` that names `name` and the problem, never the value.
 *
 * @example
 * const to = checkAddress(user.email, 'to'); // 'ann@xn--bcher-kva.example'
 */
export function checkAddress(value: unknown, name = 'address'): string {
  const parsed = parseAddress(value);
  if (!parsed.ok) throw new InvalidArgumentError(describeAddressProblem(name, parsed.problem));
  return parsed.address;
}
