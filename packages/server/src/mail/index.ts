/**
 * `latchkey/mail`: the mail an account's life needs (sign-up, password reset, e-mail change
 * links), behind one small contract, `Mailer`. `createSmtpMailer` sends through an SMTP server
 * (needs the optional peer `nodemailer`); `createDevInbox` keeps messages in memory for a
 * development page and refuses to run in production; `createMailQueue` puts either behind a queue
 * so that a request never waits for the mail server. Every address goes through `parseAddress`,
 * which refuses header injection and other tricks. docs/mail.md says how to set it up.
 *
 * @example
 * import { createDevInbox, createMailQueue, createSmtpMailer } from 'latchkey/mail';
 * const url = process.env.LATCHKEY_SMTP_URL;
 * const mailer = url
 *   ? createMailQueue(createSmtpMailer({ url, from: process.env.LATCHKEY_MAIL_FROM ?? '' }))
 *   : createDevInbox();
 * await mailer.send({ to: 'ann@example.com', subject: 'Finish signing up', text: `Open ${link}` });
 */
export {
  type AddressProblem,
  checkAddress,
  describeAddressProblem,
  type ParsedAddress,
  parseAddress,
} from './address.js';
export { createDevInbox, type DevInbox, type DevInboxMessage, type DevInboxOptions } from './dev-inbox.js';
export type { Mailer, MailMessage } from './mailer.js';
export { checkMailMessage, MAX_MAIL_BODY_BYTES } from './message.js';
export { createMailQueue, type MailFailure, type MailQueue, type MailQueueOptions } from './queue.js';
export { createSmtpMailer, type SmtpMailer, type SmtpMailerOptions } from './smtp.js';
