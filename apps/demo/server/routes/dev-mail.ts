/**
 * The development inbox: what the server would have mailed, when no SMTP server is configured.
 * Registered only outside production, and each request checks again: the page shows every sign-up
 * and reset link, so whoever can open it can take over any account.
 *
 *   GET /dev/mail        → the messages, newest first (text/html: no script, no style, every text escaped)
 *   GET /dev/mail.json[?to=<address>] → the same as JSON `[{ id, to, subject, text, sentAt, links }]`, or
 *                        only those to one address (tools and tests)
 */
import type { FastifyPluginAsync } from 'fastify';
import { sendError } from 'latchkey/fastify';
import type { DevInbox, DevInboxMessage } from 'latchkey/mail';

export interface DevMailRoutesOptions {
  inbox: DevInbox;
  /** The origin the mails' links point to: only those are links on the page; anything else stays text. */
  origin: string;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function messageHtml(m: DevInboxMessage, origin: string): string {
  const links = m.links
    .filter((link) => link.startsWith(`${origin}/`))
    .map((link) => `<li><a href="${escapeHtml(link)}" rel="noreferrer">${escapeHtml(link)}</a></li>`)
    .join('');
  return (
    `<article><h2>${escapeHtml(m.subject)}</h2>` +
    `<p>To ${escapeHtml(m.to)}, ${escapeHtml(new Date(m.sentAt).toISOString())}</p>` +
    (links ? `<ul>${links}</ul>` : '') +
    `<pre>${escapeHtml(m.text)}</pre></article>`
  );
}

/**
 * @example
 * if (process.env.NODE_ENV !== 'production') await app.register(devMailRoutes, { inbox, origin: 'http://localhost:3000' });
 */
export const devMailRoutes: FastifyPluginAsync<DevMailRoutesOptions> = async (app, { inbox, origin }) => {
  const production = () => process.env.NODE_ENV === 'production';
  app.get('/dev/mail', async (_request, reply) => {
    if (production()) return sendError(reply, 'NOT_FOUND');
    const messages = inbox.list();
    const body = messages.length === 0 ? '<p>No mail yet.</p>' : messages.map((m) => messageHtml(m, origin)).join('');
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dev inbox</title></head><body>' +
          '<h1>Dev inbox</h1><p>Mail the server would have sent (no SMTP server is configured). Development only.</p>' +
          `${body}</body></html>`,
      );
  });
  app.get('/dev/mail.json', async (request, reply) => {
    if (production()) return sendError(reply, 'NOT_FOUND');
    const { to } = request.query as { to?: unknown };
    const messages = inbox.list().filter((m) => typeof to !== 'string' || m.to === to);
    return reply
      .header('cache-control', 'no-store')
      .send(messages.map(({ id, to, subject, text, sentAt, links }) => ({ id, to, subject, text, sentAt, links })));
  });
};
