/**
 * A `Mailer` that sends through an SMTP server with nodemailer (an optional peer dependency,
 * loaded when the mailer is created: `npm i nodemailer`). One connection per message, a deadline
 * on each send, TLS required off loopback, and errors that name the server and the step but never
 * the password in the URL or the body of the mail.
 */
import { ConfigurationError, InvalidArgumentError, MailDeliveryError } from '../errors.js';
import { requireOptional } from '../lib/optional.js';
import { checkBoolean, checkNumber, checkOptions, checkString, describe } from '../lib/options.js';
import { describeAddressProblem, parseAddress } from './address.js';
import type { Mailer, MailMessage } from './mailer.js';
import { checkMailMessage } from './message.js';

type Nodemailer = typeof import('nodemailer');
type Transporter = ReturnType<Nodemailer['createTransport']>;

/**
 * Options of `createSmtpMailer`.
 *
 * @example
 * const options: SmtpMailerOptions = { url: 'smtps://app:secret@smtp.example.com', from: 'no-reply@example.com', timeoutMs: 5000 };
 */
export interface SmtpMailerOptions {
  /**
   * Where to send: `smtp://host:port` (port 587 by default; upgraded with STARTTLS) or
   * `smtps://host:port` (TLS from the first byte; port 465 by default), with credentials as
   * `smtp://user:password@host:port` (percent-encode `@`, `:` and `/` in them). Keep it in the
   * environment (`LATCHKEY_SMTP_URL`): it may hold a password, which no latchkey message quotes.
   */
  url: string;
  /** The sender's address: `no-reply@example.com`. A display name goes in `fromName`. */
  from: string;
  /** The sender's name, shown by mail clients: `Example`. One line. */
  fromName?: string;
  /**
   * Refuse to send unless the connection is encrypted (STARTTLS for `smtp://`). Default: true,
   * except for a server on loopback (a local relay or a test server), because the mail holds a
   * token and the URL may hold a password, and an attacker on the path can strip STARTTLS.
   * Set false only for a relay on a network you trust.
   */
  requireTLS?: boolean;
  /** Trust for the server's certificate when it is not signed by a public authority: its PEM CA, and the name to check. */
  tls?: { ca?: string | Buffer | Array<string | Buffer>; servername?: string };
  /** The longest one send may take, connection to the server's last reply, in milliseconds. Default 10000. */
  timeoutMs?: number;
}

/**
 * What `createSmtpMailer` returns: a `Mailer` that can also check its connection.
 *
 * @example
 * const smtp: SmtpMailer = createSmtpMailer({ url, from });
 * await smtp.verify().catch((error) => log.error({ err: error }, 'mail will not be sent'));
 */
export interface SmtpMailer extends Mailer {
  /**
   * Connects, says EHLO, logs in when the URL has credentials, and hangs up; rejects with
   * `MailDeliveryError` when any step fails. Run it at start-up to find a wrong host, port or
   * password before the first user waits for a mail.
   */
  verify(): Promise<void>;
}

const OPTIONS = ['url', 'from', 'fromName', 'requireTLS', 'tls', 'timeoutMs'];

/**
 * A `Mailer` that sends each message through the SMTP server at `url` (one connection per
 * message, at most `timeoutMs`), from `from`. Checks its options now (`ConfigurationError`) and
 * loads nodemailer now (`DependencyMissingError`: `npm i nodemailer`); `send` rejects with
 * `InvalidArgumentError` for a message it will not send and `MailDeliveryError` when the server
 * fails. Put it behind `createMailQueue` so that requests never wait for it.
 *
 * @example
 * import { createMailQueue, createSmtpMailer } from 'latchkey/mail';
 * const smtp = createSmtpMailer({ url: process.env.LATCHKEY_SMTP_URL, from: 'no-reply@example.com', fromName: 'Example' });
 * await smtp.verify(); // at start-up: a wrong password fails here, not at the first sign-up
 * const mailer = createMailQueue(smtp, { onError: (error, { attempt }) => log.warn({ err: error, attempt }, 'mail not sent') });
 */
export function createSmtpMailer(options: SmtpMailerOptions): SmtpMailer {
  const o = checkOptions('createSmtpMailer', options, OPTIONS, {
    host: 'url',
    connectionString: 'url',
    sender: 'from',
    name: 'fromName',
    timeout: 'timeoutMs',
  });
  const server = parseSmtpUrl(o.url);
  const parsedFrom = parseAddress(o.from);
  if (!parsedFrom.ok) throw new ConfigurationError(describeAddressProblem('from', parsedFrom.problem));
  const fromName =
    o.fromName === undefined
      ? ''
      : checkString('fromName', o.fromName, {
          // A line break in a display name would end the From header (header injection).
          pattern: /^[^\p{Cc}\p{Zl}\p{Zp}]+$/u,
          expected: 'one line of text',
          maxLength: 100,
        });
  // smtps:// is TLS from the first byte: there is no STARTTLS to require.
  const requireTLS = checkBoolean('requireTLS', o.requireTLS, !server.loopback) && !server.secure;
  const timeoutMs = checkNumber('timeoutMs', o.timeoutMs, {
    default: 10_000,
    min: 100,
    max: 600_000,
    unit: 'milliseconds',
  });
  const tls = checkTls(o.tls);

  // Loaded here, not at import: the rest of latchkey/mail (the dev inbox, the queue) works without it.
  const nodemailer = requireOptional<Nodemailer>('nodemailer', 'createSmtpMailer (latchkey/mail)');
  const transporter: Transporter = nodemailer.createTransport({
    host: server.host,
    port: server.port,
    secure: server.secure,
    requireTLS,
    ...(server.auth === undefined ? {} : { auth: server.auth }),
    ...(tls === undefined ? {} : { tls }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    // No logging: nodemailer's logger would print the envelope, and its debug mode the body.
    logger: false,
    debug: false,
  });
  const where = `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
  const fail = (error: unknown): never => {
    throw deliveryError(error, where, timeoutMs, requireTLS);
  };

  return {
    async send(message: MailMessage): Promise<void> {
      const m = checkMailMessage(message);
      await transporter
        .sendMail({
          from: { name: fromName, address: parsedFrom.address },
          // An address object, not a string: nodemailer never parses it for a second recipient.
          to: { name: '', address: m.to },
          subject: m.subject,
          text: m.text,
          ...(m.html === undefined ? {} : { html: m.html }),
          // RFC 3834: out-of-office replies and other robots do not answer an automatic mail.
          headers: { 'Auto-Submitted': 'auto-generated' },
          // The message is ours to build: nodemailer reads no file and fetches no URL for it.
          disableFileAccess: true,
          disableUrlAccess: true,
          // The whole send, not each wait: a server that answers slowly line by line still ends here.
          signal: AbortSignal.timeout(timeoutMs),
        })
        .catch(fail);
    },
    async verify(): Promise<void> {
      await transporter.verify().catch(fail);
    },
  };
}

interface SmtpServer {
  host: string;
  port: number;
  secure: boolean;
  loopback: boolean;
  auth?: { user: string; pass: string };
}

const URL_SHAPE =
  'smtp://host:port or smtps://host:port, with user:password@ before the host if the server needs a login';

/** The URL's parts. Messages say what is wrong with it, never what it holds: it may hold a password. */
function parseSmtpUrl(value: unknown): SmtpServer {
  if (typeof value !== 'string' || value === '') {
    throw new ConfigurationError(
      `url ${value === undefined ? 'is required' : `must be a string; got ${describe(value)}`}: ${URL_SHAPE}`,
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(`url is not a URL: ${URL_SHAPE}`);
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new ConfigurationError(`url must start with smtp:// or smtps://: ${URL_SHAPE}`);
  }
  if (url.hostname === '') throw new ConfigurationError(`url has no host: ${URL_SHAPE}`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new ConfigurationError(
      `url takes no path, query or fragment (are special characters in the password percent-encoded?): ${URL_SHAPE}`,
    );
  }
  if (url.password !== '' && url.username === '') {
    throw new ConfigurationError(`url has a password but no user name: ${URL_SHAPE}`);
  }
  const secure = url.protocol === 'smtps:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port);
  let auth: SmtpServer['auth'];
  if (url.username !== '') {
    try {
      auth = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    } catch {
      throw new ConfigurationError(`url has a user name or password that is not valid percent-encoding: ${URL_SHAPE}`);
    }
  }
  return { host, port, secure, loopback: isLoopback(host), ...(auth === undefined ? {} : { auth }) };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function checkTls(value: unknown): SmtpMailerOptions['tls'] {
  if (value === undefined) return undefined;
  const o = checkOptions<Record<string, unknown>>('tls', value as Record<string, unknown>, ['ca', 'servername'], {
    rejectUnauthorized: 'ca',
  });
  const pem = (v: unknown) => typeof v === 'string' || Buffer.isBuffer(v);
  if (o.ca !== undefined && !(pem(o.ca) || (Array.isArray(o.ca) && o.ca.every(pem)))) {
    throw new ConfigurationError(`tls.ca must be a PEM string or Buffer, or an array of them; got ${describe(o.ca)}`);
  }
  const servername =
    o.servername === undefined ? undefined : checkString('tls.servername', o.servername, { expected: 'a host name' });
  return {
    ...(o.ca === undefined ? {} : { ca: o.ca as NonNullable<SmtpMailerOptions['tls']>['ca'] }),
    ...(servername === undefined ? {} : { servername }),
  };
}

interface NodemailerError {
  code?: unknown;
  originalCode?: unknown;
  responseCode?: unknown;
  response?: unknown;
  permanent?: unknown;
  command?: unknown;
}

/**
 * nodemailer's error as a `MailDeliveryError` whose message is built here from codes only. The
 * server's reply text is left out (a filter refusing the message may quote its links, which hold
 * tokens), as is nodemailer's error as a `cause`: it carries that text.
 */
function deliveryError(error: unknown, where: string, timeoutMs: number, requireTLS: boolean): LatchkeyLikeError {
  if (error instanceof InvalidArgumentError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as NodemailerError;
  const code = typeof e.code === 'string' ? e.code : 'unknown';
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  // RFC 3463's enhanced status code (`5.1.1`) says what went wrong without quoting anything.
  const enhanced =
    typeof e.response === 'string' ? /^\d{3}[ -](\d\.\d{1,3}\.\d{1,3})\b/.exec(e.response)?.[1] : undefined;
  const reply = responseCode === undefined ? '' : ` (${responseCode}${enhanced === undefined ? '' : ` ${enhanced}`})`;
  const step = typeof e.command === 'string' && /^[A-Z][A-Z ]{1,15}$/.test(e.command) ? ` at ${e.command}` : '';
  // Node's own code under nodemailer's (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT): a name, never data.
  const system =
    typeof e.originalCode === 'string' && /^[A-Z][A-Z0-9_]{2,40}$/.test(e.originalCode) ? e.originalCode : code;
  const options = { permanent: e.permanent === true, ...(responseCode === undefined ? {} : { responseCode }) };
  const at = `the SMTP server at ${where}`;
  let message: string;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(system)) {
    return new MailDeliveryError(
      `${at} has a TLS certificate that is not trusted (${system}): give its CA in tls.ca, or its name in tls.servername if the url uses another`,
      options,
    );
  }
  switch (code) {
    case 'EABORT':
    case 'ETIMEDOUT':
      message = `${at} did not answer within ${timeoutMs} ms (timeoutMs)`;
      break;
    case 'EDNS':
      message = `${at} could not be found (${system}): check the host in the url`;
      break;
    case 'ECONNECTION':
    case 'ESOCKET':
      message =
        responseCode === undefined
          ? `${at} could not be reached (${system}): check the host and port in the url, and that the server runs`
          : `${at} closed the connection${reply}${step}`;
      break;
    case 'ETLS':
      message = requireTLS
        ? `${at} offers no STARTTLS, and requireTLS is on (the default off loopback, because the mail holds a token): use smtps://, enable STARTTLS on the server, or set requireTLS: false for a relay on a network you trust`
        : `${at} failed the TLS handshake (${system}): check its certificate, or give its CA in tls.ca`;
      break;
    case 'EAUTH':
    case 'ENOAUTH':
      message = `${at} refused the login${reply}: check the user name and password in the url`;
      break;
    case 'EENVELOPE':
      message = `${at} refused the sender or the recipient${reply}${step}`;
      break;
    case 'EMESSAGE':
      message = `${at} refused the message${reply}${step}`;
      break;
    default:
      message = `sending through ${at} failed (${/^E[A-Z]+$/.test(code) ? code : 'unknown error'})${reply}${step}`;
  }
  return new MailDeliveryError(message, options);
}

type LatchkeyLikeError = MailDeliveryError | InvalidArgumentError;
