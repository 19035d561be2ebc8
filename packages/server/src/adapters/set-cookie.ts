/**
 * One Set-Cookie per cookie name in an answer, on every adapter. A flow step adds its cookie beside
 * what the answer holds already: the app's own cookies stay, and an earlier cookie of the same name
 * gives way. Why: a login on a request that carried a dead session cookie first expires that cookie,
 * then sets the new one; browsers keep the last of a name, but an answer that says both invites a
 * proxy or client that keeps the first to log the user out.
 */

/** `earlier` (a header value as a framework holds it) without `cookie`'s name, then `cookie`. */
export function addSetCookie(earlier: unknown, cookie: string): string[] {
  const list = earlier === undefined || earlier === null ? [] : Array.isArray(earlier) ? earlier : [earlier];
  const sameName = cookie.slice(0, cookie.indexOf('=') + 1);
  const kept: string[] = [];
  for (const value of list) {
    // Leading spaces trimmed before the name is compared: clients trim them, so ` __Host-session=…`
    // from the app would otherwise reach the browser as a second cookie of our name.
    if (!String(value).trimStart().startsWith(sameName)) kept.push(String(value));
  }
  kept.push(cookie);
  return kept;
}
