/**
 * The cookies the browser holds for the site, from the DevTools protocol (so HttpOnly ones too),
 * and which of them look like a session: by name, or by a JWT value. Each session cookie is checked
 * for HttpOnly, Secure, SameSite, the __Host- prefix and its lifetime.
 */
import { JWT_PATTERN } from './detect.js';
import { type Finding, finding } from './findings.js';

/** A cookie as Playwright's `context.cookies()` gives it (CDP `Network.getCookies`). */
export interface BrowserCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  /** Seconds since the epoch; -1 for a session cookie. */
  expires: number;
  httpOnly: boolean;
  secure: boolean;
  sameSite: 'Strict' | 'Lax' | 'None';
}

const SESSION_NAME = /sess|sid|auth|token|jwt|login|remember|identity|connect\.sid|^_?[a-z]*_session$/i;

/** Does this cookie carry a login? Its name says so, or its value is a JWT. */
export function isSessionCookie(cookie: BrowserCookie): boolean {
  JWT_PATTERN.lastIndex = 0;
  return SESSION_NAME.test(cookie.name) || JWT_PATTERN.test(cookie.value);
}

const MAX_LIFETIME = 30 * 86_400;

/** Findings of the site's session cookies (an unset SameSite reads as Lax, as Chromium treats it). */
export function checkCookies(
  url: string,
  cookies: readonly BrowserCookie[],
  nowSeconds = Date.now() / 1000,
): Finding[] {
  const out: Finding[] = [];
  for (const cookie of cookies) {
    if (!isSessionCookie(cookie)) continue;
    const where = `cookie ${cookie.name}`;
    if (!cookie.httpOnly)
      out.push(
        finding(
          'cookie-httponly',
          url,
          `${cookie.name} has no HttpOnly: document.cookie shows it to every script.`,
          where,
        ),
      );
    if (!cookie.secure) out.push(finding('cookie-secure', url, `${cookie.name} has no Secure attribute.`, where));
    if (cookie.sameSite === 'None')
      out.push(finding('cookie-samesite', url, `${cookie.name} is SameSite=None: sent on cross-site requests.`, where));
    if (!cookie.name.startsWith('__Host-'))
      out.push(finding('cookie-host-prefix', url, `${cookie.name} has no __Host- prefix.`, where));
    if (cookie.expires > 0 && cookie.expires - nowSeconds > MAX_LIFETIME) {
      const days = Math.round((cookie.expires - nowSeconds) / 86_400);
      out.push(finding('cookie-lifetime', url, `${cookie.name} lives ${days} days.`, where));
    }
  }
  return out;
}
