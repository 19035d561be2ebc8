/**
 * The session cookie: read it strictly, write it with the secure defaults.
 * Writing uses the `cookie` package; reading finds our one pair by its exact name and slices its
 * value out, with the `cookie` package's rule for a value (a differential test holds them equal).
 * The rules on top are ours:
 * - RFC 6265bis §4.1.3.2: a `__Host-` cookie is Secure, Path=/ and has no Domain, so no sibling
 *   subdomain and no other path can set or shadow it.
 * - RFC 6265bis §5.4: browsers match cookie prefixes case-insensitively, so `__HOST-session` set
 *   by a sibling without the prefix rules could shadow ours. A header that carries our name twice,
 *   or any case variant of it, is not authenticated.
 */
import { stringifySetCookie } from 'cookie';
import { ConfigurationError } from '../errors.js';

/**
 * The session cookie's SameSite attribute. `strict` (the default) keeps the cookie off every
 * cross-site request; `lax` also sends it on cross-site top-level GET navigations. `none` is not
 * offered: it would send the cookie on cross-site requests and leave the CSRF guard as the only wall.
 */
export type SameSite = 'strict' | 'lax';

/**
 * The attributes of the session cookie that can vary: its name, SameSite and lifetime. The session
 * manager fixes them (`SessionManager.cookie`); `serializeSessionCookie` and
 * `serializeExpiredSessionCookie` take them. Secure, HttpOnly and Path=/ are not options: the
 * cookie always has them.
 */
export interface SessionCookieOptions {
  /** The cookie's name, an RFC 6265 token. The session manager's default is `__Host-session`. */
  name: string;
  /** `strict` or `lax`; see `SameSite`. */
  sameSite: SameSite;
  /** Seconds; the absolute timeout, so the browser drops the cookie when the server would. */
  maxAge: number;
}

/** What the Cookie header held under our name. */
export type CookieReading =
  | { kind: 'none' }
  | { kind: 'ambiguous' } // our name twice, or a case variant of it
  | { kind: 'value'; value: string };

// RFC 6265 §4.1.1: cookie-name is an HTTP token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Throws `ConfigurationError` unless `name` is a valid cookie name (an RFC 6265 token). */
export function assertCookieName(name: string): void {
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    // The name is not quoted back: a value pasted in the wrong place may be a secret.
    throw new ConfigurationError(
      "cookie name must be an RFC 6265 token (letters, digits and !#$%&'*+-.^_`|~, no spaces, ';' or '='), such as __Host-session",
    );
  }
}

// Values are never percent-decoded: a token has exactly one spelling, so no alternate encoding of
// a captured token is accepted.
const NONE: CookieReading = Object.freeze({ kind: 'none' });
const AMBIGUOUS: CookieReading = Object.freeze({ kind: 'ambiguous' });
/** Without the spaces and tabs around it (the cookie package's rule for a value). */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/**
 * Returns a reader bound to one cookie name; the name's pattern is compiled once.
 *
 * @example
 * const read = createCookieReader('__Host-session');
 * read(req.headers.cookie); // { kind: 'value', value } | { kind: 'none' } | { kind: 'ambiguous' }
 */
export function createCookieReader(name: string): (header: string | undefined) => CookieReading {
  assertCookieName(name);
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const occurrences = new RegExp(`(?:^|;)[ \\t]*(${escaped})[ \\t]*=`, 'gi');
  const prefix = `${name}=`;
  return (header) => {
    if (typeof header !== 'string' || header.length === 0) return NONE;
    // One pair, ours by its exact name (an API origin's requests often carry nothing else): no
    // second pair can shadow it, so the scan below would find what this finds.
    if (header.startsWith(prefix) && !header.includes(';', prefix.length))
      return { kind: 'value', value: trimOws(header.slice(prefix.length)) };
    occurrences.lastIndex = 0;
    const first = occurrences.exec(header);
    if (first === null) return NONE;
    // Our name twice (in any case), or only a case variant of it: which one is ours is unclear.
    if (first[1] !== name || occurrences.exec(header) !== null) return AMBIGUOUS;
    // The one pair is found: its value is sliced out, not every cookie of the header parsed into an
    // object per request (#18). Trimmed of spaces and tabs, as the cookie package reads values.
    const start = first.index + first[0].length;
    const end = header.indexOf(';', start);
    return { kind: 'value', value: trimOws(header.slice(start, end === -1 ? header.length : end)) };
  };
}

/** `Set-Cookie` for a new session token. */
export function serializeSessionCookie(token: string, options: SessionCookieOptions): string {
  return stringifySetCookie(options.name, token, {
    path: '/',
    httpOnly: true, // C2: no script can read it.
    secure: true, // C1: required by __Host-; browsers treat http://localhost as secure.
    sameSite: options.sameSite, // C3: strict by default; lax only when asked for.
    maxAge: options.maxAge,
  });
}

/** `Set-Cookie` that removes the session cookie (same attributes, empty value, Max-Age=0). */
export function serializeExpiredSessionCookie(options: SessionCookieOptions): string {
  return stringifySetCookie(options.name, '', {
    path: '/',
    httpOnly: true,
    secure: true,
    sameSite: options.sameSite,
    maxAge: 0,
    expires: new Date(0),
  });
}
