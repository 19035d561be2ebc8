/**
 * The check every `Mailer` in latchkey/mail runs on a message before it does anything with it:
 * one valid recipient, a one-line subject, a text body, an optional HTML body, nothing else.
 */
import { InvalidArgumentError } from '../errors.js';
import { describe } from '../lib/options.js';
import { checkAddress } from './address.js';
import type { MailMessage } from './mailer.js';

/**
 * The largest `text` or `html` body, in UTF-8 bytes (1 MiB): far above any transactional mail.
 *
 * @example
 * if (Buffer.byteLength(html) > MAX_MAIL_BODY_BYTES) html = undefined; // send the text alone
 */
export const MAX_MAIL_BODY_BYTES = 1_048_576;

/** RFC 5322 §2.1.1: a line is at most 998 characters; a subject longer than that is a bug. */
const MAX_SUBJECT_LENGTH = 998;
const FIELDS = ['to', 'subject', 'text', 'html'];
// A CR or LF ends the Subject header and starts another (header injection); other C0/C1 controls
// and the Unicode line separators have no place in a one-line header either.
const SUBJECT_CONTROL = /[\p{Cc}\u2028\u2029]/u;

/**
 * Checks a message and returns a copy with `to` in its normal form (see `parseAddress`). Throws
 * `InvalidArgumentError` naming the field and the problem, never quoting the address, the subject
 * or the body: an unknown field (`cc`, `bcc`, `from`: one recipient, the sender is the mailer's),
 * a refused address, a subject with a line break, a body that is not a string or over
 * `MAX_MAIL_BODY_BYTES`.
 *
 * @example
 * const message = checkMailMessage({ to: 'Ann@Example.COM', subject: 'Hi', text: 'Hello' });
 * message.to; // 'Ann@example.com'
 */
export function checkMailMessage(message: MailMessage): MailMessage {
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new InvalidArgumentError(
      `a mail message must be an object { to, subject, text, html? }; got ${describe(message)}`,
    );
  }
  for (const key of Object.keys(message)) {
    if (!FIELDS.includes(key)) {
      const printable = /^[A-Za-z]{1,20}$/.test(key) ? `"${key}"` : 'a field';
      throw new InvalidArgumentError(
        `a mail message has ${printable} it does not take: only to, subject, text and html (one recipient per message; the sender is the mailer's from)`,
      );
    }
  }
  const to = checkAddress(message.to, 'to');
  const { subject, text, html } = message;
  if (typeof subject !== 'string' || subject.trim() === '') {
    throw new InvalidArgumentError(`subject must be a non-empty string; got ${describe(subject)}`);
  }
  if (SUBJECT_CONTROL.test(subject)) {
    throw new InvalidArgumentError(
      'subject holds a line break or another control character, which could add mail headers (header injection): keep it to one line',
    );
  }
  if (subject.length > MAX_SUBJECT_LENGTH) {
    throw new InvalidArgumentError(`subject is longer than ${MAX_SUBJECT_LENGTH} characters`);
  }
  checkBody('text', text);
  if (html !== undefined) checkBody('html', html);
  return html === undefined ? { to, subject, text } : { to, subject, text, html };
}

function checkBody(name: string, body: unknown): asserts body is string {
  if (typeof body !== 'string') throw new InvalidArgumentError(`${name} must be a string; got ${describe(body)}`);
  if (Buffer.byteLength(body, 'utf8') > MAX_MAIL_BODY_BYTES) {
    throw new InvalidArgumentError(`${name} is larger than ${MAX_MAIL_BODY_BYTES} bytes (MAX_MAIL_BODY_BYTES)`);
  }
}
