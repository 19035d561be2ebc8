/**
 * The mail contract: one message to one recipient, and a `Mailer` that sends it. latchkey's account
 * flows need nothing more, so any service can stand behind it: the SMTP mailer
 * (`createSmtpMailer`), the development inbox (`createDevInbox`), a queue in front of either
 * (`createMailQueue`), or an app's own mailer for an HTTP mail API.
 *
 * A mailer of your own should run `checkMailMessage` on what it is given (the same refusals as
 * latchkey's), keep the body (it holds single-use tokens) out of its logs and errors, and reject
 * when the mail was not accepted.
 */

/**
 * One mail to one recipient. `text` is required (some clients show only it, and it is what a
 * screen reader reads best); `html` is optional. No `cc` or `bcc`: a message that carries a token
 * goes to exactly one person.
 *
 * @example
 * const message: MailMessage = {
 *   to: 'ann@example.com',
 *   subject: 'Reset your password',
 *   text: `Open this link within 30 minutes to choose a new password:\n${link}`,
 * };
 */
export interface MailMessage {
  /** One address, checked with `checkAddress`. */
  to: string;
  /** One line: a line break is refused (it would start a new header). */
  subject: string;
  text: string;
  html?: string;
}

/**
 * Sends a `MailMessage`. `send` resolves when the message was accepted (by the SMTP server, the
 * inbox, the queue), rejects with `InvalidArgumentError` for a message it will not send (a bad
 * address, a line break in the subject), and with `MailDeliveryError` when the server failed.
 *
 * @example
 * async function sendResetLink(mailer: Mailer, to: string, link: string): Promise<void> {
 *   await mailer.send({ to, subject: 'Reset your password', text: `Choose a new password: ${link}` });
 * }
 */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}
