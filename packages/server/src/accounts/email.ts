/**
 * E-mail addresses as accounts are found by: `latchkey/mail`'s `parseAddress` (the one check of an
 * address's syntax: no line break, no second recipient, SMTP's lengths, the domain in lowercase
 * ASCII), then the local part lower-cased. Every flow of `latchkey/accounts` passes addresses
 * through `normalizeEmail` before anything else, so `Alice@Example.COM`, ` alice@example.com ` and
 * `alice@EXAMPLE.com` are one account, and an address that could smuggle a header into a mail
 * (`a@b.c\r\nBcc: …`) never reaches a directory or a mailer.
 */
import { parseAddress } from '../mail/address.js';

/**
 * An address in the form accounts are stored and found by, or `null` when it is not one a mail
 * can be sent to.
 *
 * - `parseAddress` from `latchkey/mail` first: spaces around it are trimmed; a control or format
 *   character anywhere (`\r`, `\n`, NUL, a zero-width or bidi character), a display name, a second
 *   address, a quoted local part, an IP literal or a dotless domain refuse it; at most 254 octets in
 *   all and 64 before the `@` (RFC 5321); the domain is IDNA-mapped to lowercase ASCII
 *   (`Bücher.EXAMPLE` → `xn--bcher-kva.example`); non-ASCII local parts (RFC 6531) are accepted.
 * - Then the local part is lower-cased. RFC 5321 lets a server treat `Alice` and `alice` as two
 *   mailboxes; practically none does, and two accounts that differ only by case would be a trap (a
 *   reset asked for `alice@` silently finding nothing, a second sign-up for the same person). Dots
 *   and `+tags` are kept: what they mean differs from one provider to the next.
 *
 * @example
 * normalizeEmail(' Alice@Example.COM ');     // 'alice@example.com'
 * normalizeEmail('a@example.com\r\nBcc: x'); // null
 * normalizeEmail('Zoë@Bücher.example');      // 'zoë@xn--bcher-kva.example'
 */
export function normalizeEmail(value: unknown): string | null {
  const parsed = parseAddress(value);
  if (!parsed.ok) return null;
  // Parsed again: lower case can be longer in UTF-8 ('İ' is 2 octets, 'i̇' 3), so the limits are checked anew.
  const folded = parseAddress(`${parsed.local.toLowerCase()}@${parsed.domain}`);
  return folded.ok ? folded.address : null;
}
