/**
 * The app's links that carry a one-time token, and the check that each puts it in the URL fragment.
 * A fragment is never sent to a server: the token reaches neither an access log nor a proxy's, and
 * no `Referer` carries it to what the page loads (docs/one-time-tokens.md).
 */
import { ConfigurationError } from '../errors.js';
import { checkFunction, describe } from '../lib/options.js';

/**
 * Builds the app's URLs from a token. The token must go in the fragment (after `#`), and the page
 * POSTs it back: `createAccountFlows` checks both at start-up.
 *
 * @example
 * const links: AccountLinks = {
 *   verifyEmail: (token) => `https://app.example/verify-email#token=${token}`,
 *   resetPassword: (token) => `https://app.example/reset-password#token=${token}`,
 *   confirmEmailChange: (token) => `https://app.example/confirm-email#token=${token}`,
 *   undoEmailChange: (token) => `https://app.example/undo-email-change#token=${token}`,
 * };
 */
export interface AccountLinks {
  /** The page that finishes a sign-up (POSTs the token to the route that calls `verifyEmail`). */
  verifyEmail(token: string): string;
  /** The page that sets a new password (POSTs `{ token, password }` to `resetPassword`'s route). */
  resetPassword(token: string): string;
  /** The page that confirms a new address (POSTs the token to `confirmEmailChange`'s route). */
  confirmEmailChange(token: string): string;
  /** The page that undoes an e-mail change (POSTs the token to `undoEmailChange`'s route). */
  undoEmailChange(token: string): string;
}

const NAMES = ['verifyEmail', 'resetPassword', 'confirmEmailChange', 'undoEmailChange'] as const;
// A made-up token of the real shape (43 base64url characters), to see where each link puts it.
const SAMPLE = 'SAMPLE_token_0123456789-abcdefghijklmnopqrs';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The links, each checked to build an absolute https URL (http on loopback) with the token in the fragment only. */
export function checkLinks(value: unknown): AccountLinks {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigurationError(
      `links must be an object of functions from a token to a URL, { ${NAMES.join(', ')} }, such as verifyEmail: (token) => \`https://app.example/verify-email#token=\${token}\`; got ${describe(value)}`,
    );
  }
  const links = value as Record<string, unknown>;
  for (const key of Object.keys(links)) {
    if (!(NAMES as readonly string[]).includes(key))
      throw new ConfigurationError(`links has an unknown link; the links are ${NAMES.join(', ')}`);
  }
  for (const name of NAMES) {
    const build = checkFunction<(token: string) => unknown>(`links.${name}`, links[name]);
    const url = build(SAMPLE);
    const parsed = typeof url === 'string' && URL.canParse(url) ? new URL(url) : null;
    if (parsed === null)
      throw new ConfigurationError(
        `links.${name} must return an absolute URL, such as \`https://app.example/page#token=\${token}\``,
      );
    // Why https: a link read on the wire is as good as the password for as long as it lives.
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname)))
      throw new ConfigurationError(
        `links.${name} must be an https URL (http only on localhost): the link is as good as the password while it lives`,
      );
    // Why the fragment: a path or query string is written to every server and proxy log on the way,
    // and sent in Referer to whatever the page loads; a fragment never leaves the browser.
    const before = `${parsed.origin}${parsed.pathname}${parsed.search}`;
    // The sample holds only characters a URL never escapes, so it is found as it is.
    if (!parsed.hash.includes(SAMPLE) || before.includes(SAMPLE))
      throw new ConfigurationError(
        `links.${name} must put the token in the URL fragment, and only there: \`https://app.example/page#token=\${token}\`. A token in the path or query string reaches server logs and Referer headers`,
      );
  }
  return Object.freeze(Object.fromEntries(NAMES.map((name) => [name, links[name]]))) as unknown as AccountLinks;
}
