/**
 * A `Mailer` for development that sends nothing: it keeps the last messages in memory for a page
 * such as `/dev/mail` to show, and tells listeners about each one so a dev server can print its
 * links on the console. `npm start` then gives a working sign-up with no mail server installed.
 *
 * It refuses to exist when `NODE_ENV=production`: whoever can read the page can read every reset
 * and sign-up link in it, and so take over any account.
 */
import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import { checkNumber, checkOptions } from '../lib/options.js';
import type { Mailer, MailMessage } from './mailer.js';
import { checkMailMessage } from './message.js';

/**
 * Options of `createDevInbox`.
 *
 * @example
 * const inbox = createDevInbox({ max: 20 });
 */
export interface DevInboxOptions {
  /** How many messages to keep; the oldest goes first. Default 50, 1 to 1000. */
  max?: number;
}

/**
 * A message the dev inbox kept: the message as sent, with an id, a time and its links.
 *
 * @example
 * inbox.onMessage((m: DevInboxMessage) => console.log(`${m.subject} → ${m.to}\n  ${m.links.join('\n  ')}`));
 */
export interface DevInboxMessage extends MailMessage {
  /** A random id, for a page that shows one message. */
  readonly id: string;
  /** When it was sent, in milliseconds since the epoch. */
  readonly sentAt: number;
  /** The http(s) links in `text`, in order: what a developer wants to click. */
  readonly links: readonly string[];
}

/**
 * What `createDevInbox` returns: a `Mailer` that keeps what it is sent.
 *
 * @example
 * const inbox: DevInbox = createDevInbox();
 * app.get('/dev/mail', () => inbox.list().map(({ id, to, subject, sentAt, links }) => ({ id, to, subject, sentAt, links })));
 */
export interface DevInbox extends Mailer {
  /** The kept messages, newest first. */
  list(): DevInboxMessage[];
  /** Forgets every message. */
  clear(): void;
  /** Calls `listener` with each message as it is sent; returns a function that stops it. */
  onMessage(listener: (message: DevInboxMessage) => void): () => void;
}

const LINK = /\bhttps?:\/\/[^\s<>"']+/g;

/** The http(s) URLs in a text, without the punctuation of the sentence around them. */
function links(text: string): string[] {
  return (text.match(LINK) ?? []).map((link) => link.replace(/[.,;:!?)\]]+$/, ''));
}

/**
 * A `Mailer` that keeps the last `max` messages in memory instead of sending them, for a
 * development page (`/dev/mail`) and for tests. Messages are checked like any mailer's. Throws
 * `ConfigurationError` when `NODE_ENV` is `production`, at creation and at each use.
 *
 * @example
 * const inbox = createDevInbox();
 * inbox.onMessage((m) => console.log(`mail to ${m.to}: ${m.subject}\n  ${m.links.join('\n  ')}`));
 * app.get('/dev/mail', () => inbox.list());
 * const mailer = process.env.LATCHKEY_SMTP_URL ? createSmtpMailer({ url: process.env.LATCHKEY_SMTP_URL, from }) : inbox;
 */
export function createDevInbox(options?: DevInboxOptions): DevInbox {
  refuseProduction();
  const o = checkOptions('createDevInbox', options, ['max'], { limit: 'max', size: 'max' });
  const max = checkNumber('max', o.max, { default: 50, min: 1, max: 1000, integer: true, unit: 'messages' });
  let messages: DevInboxMessage[] = [];
  const listeners = new Set<(message: DevInboxMessage) => void>();

  return {
    async send(message: MailMessage): Promise<void> {
      refuseProduction();
      const m = checkMailMessage(message);
      const kept: DevInboxMessage = Object.freeze({
        ...m,
        id: randomUUID(),
        sentAt: Date.now(),
        links: Object.freeze(links(m.text)),
      });
      messages = [kept, ...messages].slice(0, max);
      for (const listener of listeners) {
        try {
          listener(kept);
        } catch (error) {
          // A listener that prints is a convenience: its failure must not fail the mail.
          console.error('latchkey/mail: a dev inbox listener threw', error);
        }
      }
    },
    list(): DevInboxMessage[] {
      refuseProduction();
      return [...messages];
    },
    clear(): void {
      messages = [];
    },
    onMessage(listener: (message: DevInboxMessage) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function refuseProduction(): void {
  // Why: the inbox shows every reset and sign-up link to whoever can open the page that lists it.
  if (process.env.NODE_ENV === 'production') {
    throw new ConfigurationError(
      'createDevInbox is for development and refuses to run with NODE_ENV=production: it would show every reset and sign-up link to whoever can open its page. Send mail with createSmtpMailer (set LATCHKEY_SMTP_URL and LATCHKEY_MAIL_FROM)',
    );
  }
}
