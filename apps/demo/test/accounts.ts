/**
 * Reading the account mails in tests and tools: the token of a link, from the dev inbox (in
 * process, or a server process's `/dev/mail.json`) or from a real SMTP server's received mail.
 */

/** What a test needs of a mail: who it went to and its text (where the links are). */
export interface MailLike {
  to: string;
  text: string | undefined;
}

/**
 * The token of the last mail (of `messages`, oldest first) to `to` whose link opens `page`
 * (`/verify`, `/reset`, `/confirm-email`, `/undo-email-change`), or `undefined`.
 *
 * @example
 * linkToken(inbox.list().reverse(), 'ann@example.org', '/verify');
 */
export function linkToken(messages: readonly MailLike[], to: string, page: string): string | undefined {
  const pattern = new RegExp(`https?://[^\\s/]+${page.replace(/[/-]/g, '\\$&')}#token=([A-Za-z0-9_-]{43})\\b`);
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.to !== to) continue;
    const token = pattern.exec(message.text ?? '')?.[1];
    if (token) return token;
  }
  return undefined;
}

/**
 * Polls `read` (messages oldest first) until a mail to `to` with a `page` link is there; its token.
 * The flows hand mail over without waiting for it, so it may arrive just after the answer.
 *
 * @example
 * const token = await waitForLink(() => inbox.list().reverse(), email, '/verify');
 */
export async function waitForLink(
  read: () => readonly MailLike[] | Promise<readonly MailLike[]>,
  to: string,
  page: string,
  timeoutMs = 5000,
): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const token = linkToken(await read(), to, page);
    if (token) return token;
    if (Date.now() > end) throw new Error(`no mail to ${to} with a ${page} link within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A server process's dev inbox (`GET /dev/mail.json`, development only), oldest first; only the
 * mail to `to` when given.
 *
 * @example
 * const token = await waitForLink(devMail(base, email), email, '/verify');
 */
export const devMail = (base: string, to?: string) => async (): Promise<MailLike[]> => {
  const res = await fetch(`${base}/dev/mail.json${to === undefined ? '' : `?to=${encodeURIComponent(to)}`}`);
  if (res.status !== 200) throw new Error(`GET /dev/mail.json: ${res.status}`);
  return ((await res.json()) as MailLike[]).reverse();
};

/**
 * Signs up through a server process's real routes and dev inbox: register, the mailed link, verify.
 * The verify answer (it carries the session and device cookies).
 *
 * @example
 * const res = await signUp(base, { email: 'ann@example.org', password, username: 'ann' });
 * const cookie = /__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
 */
export async function signUp(
  base: string,
  account: { email: string; password: string; username?: string },
  headers: Record<string, string> = {},
): Promise<Response> {
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: base, ...headers },
      body: JSON.stringify(body),
    });
  const registered = await post('/api/auth/register', account);
  if (registered.status !== 202) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const token = await waitForLink(devMail(base, account.email), account.email, '/verify');
  const verified = await post('/api/auth/verify', { token, password: account.password });
  if (verified.status !== 200) throw new Error(`verify: ${verified.status} ${await verified.text()}`);
  return verified;
}
