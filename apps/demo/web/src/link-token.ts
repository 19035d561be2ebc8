/**
 * The token of a mailed link (`/verify#token=…`, `/reset#token=…`). It travels in the URL fragment,
 * which the browser never sends: no server or proxy log and no Referer ever sees it. The page reads
 * it once, takes it out of the address bar and history at once (so it does not linger where a
 * screenshot, a shared screen or the next page's Referer could find it), and POSTs it when the user
 * acts. Never on load: mail scanners and link previews open links too.
 */
let taken: { path: string; token: string | null } | undefined;

/** The link's token for this page, read from the fragment on the first call and kept in memory only. */
export function takeLinkToken(): string | null {
  if (taken?.path === location.pathname) return taken.token;
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  taken = { path: location.pathname, token: token && /^[A-Za-z0-9_-]{43}$/.test(token) ? token : null };
  if (location.hash) history.replaceState(history.state, '', location.pathname);
  return taken.token;
}
