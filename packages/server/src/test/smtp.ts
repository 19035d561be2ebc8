/**
 * A real SMTP server in process (the `smtp-server` package) that records what arrives, decoded
 * enough to assert on: the envelope, the headers (RFC 2047 words decoded), the text and HTML
 * bodies (quoted-printable and base64 decoded). It can also be made slow, refusing or
 * login-protected, for the failure tests. Test code only: never shipped.
 */
import { createServer } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface ReceivedMail {
  /** MAIL FROM and RCPT TO, as the server saw them: what the mail really was sent to. */
  envelope: { from: string; to: string[] };
  /** Header names in lowercase, values unfolded and decoded; a header sent twice is joined with '\n'. */
  headers: Record<string, string>;
  text: string | undefined;
  html: string | undefined;
  /** The message as received, headers and body. */
  raw: string;
}

export interface TestSmtpServerOptions {
  /** Answer DATA with this SMTP code (`554`, `451`) on the given attempt (from 1), or accept with undefined. */
  refuse?: (attempt: number) => number | undefined;
  /** Wait this long before the greeting, in milliseconds: a slow server. */
  greetingDelayMs?: number;
  /** Require this login (offered over the plain connection, as a local relay would). */
  login?: { user: string; pass: string };
  /** TLS from the first byte (smtps) with this key and certificate. */
  tls?: { key: string; cert: string };
}

export interface TestSmtpServer {
  port: number;
  /** `smtp://127.0.0.1:<port>` (or `smtps://`), without credentials. */
  url: string;
  /** Messages accepted, oldest first. */
  received: ReceivedMail[];
  /** How many times a client reached DATA (accepted or refused). */
  attempts: number;
  /** How many connections were opened. */
  connections: number;
  /** Resolves when `count` messages have arrived; rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

export async function startSmtpServer(options: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
  let attempts = 0;
  let connections = 0;
  const received: ReceivedMail[] = [];
  const config: SMTPServerOptions = {
    logger: false,
    // A local relay: no STARTTLS (nodemailer would try it and refuse the self-signed certificate).
    disabledCommands: options.login === undefined ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
    authOptional: options.login === undefined,
    allowInsecureAuth: true,
    ...(options.tls === undefined ? {} : { secure: true, key: options.tls.key, cert: options.tls.cert }),
    onConnect(_session, callback) {
      connections++;
      if (options.greetingDelayMs === undefined) callback();
      else setTimeout(callback, options.greetingDelayMs);
    },
    onAuth(auth, _session, callback) {
      const ok = auth.username === options.login?.user && auth.password === options.login?.pass;
      if (ok) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        attempts++;
        const code = options.refuse?.(attempts);
        if (code !== undefined) {
          callback(Object.assign(new Error(`refused by the test server`), { responseCode: code }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const mailFrom = session.envelope.mailFrom;
        received.push({
          envelope: {
            from: mailFrom === false ? '' : mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
          },
          ...parseMail(raw),
          raw,
        });
        callback();
      });
    },
  };
  const server = new SMTPServer(config);
  server.on('error', () => {}); // a client that hangs up mid-command is expected in these tests
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    url: `${options.tls === undefined ? 'smtp' : 'smtps'}://127.0.0.1:${port}`,
    received,
    get attempts() {
      return attempts;
    },
    get connections() {
      return connections;
    },
    async waitFor(count, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > end) throw new Error(`${received.length} of ${count} messages arrived in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago): a mail server that is down. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function parseMail(raw: string): Pick<ReceivedMail, 'headers' | 'text' | 'html'> {
  const { headers, body } = splitPart(raw);
  const type = headers['content-type'] ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  const parts =
    boundary === undefined
      ? [{ headers, body }]
      : body
          .split(`--${boundary}`)
          .slice(1, -1)
          .map((part) => splitPart(part.replace(/^\r\n/, '')));
  const find = (mime: string) => {
    const part = parts.find((p) => (p.headers['content-type'] ?? 'text/plain').toLowerCase().startsWith(mime));
    return part === undefined ? undefined : decodeBody(part.body, part.headers['content-transfer-encoding']);
  };
  return { headers, text: find('text/plain'), html: find('text/html') };
}

function splitPart(raw: string): { headers: Record<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? '' : raw.slice(end + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = decodeWords(line.slice(colon + 1).trim());
    headers[name] = headers[name] === undefined ? value : `${headers[name]}\n${value}`;
  }
  return { headers, body };
}

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`); the space between two of them is not text. */
function decodeWords(value: string): string {
  return value.replace(/(\?=)\s+(=\?)/g, '$1$2').replace(/(?:=\?[^?]+\?[BbQq]\?[^?]*\?=)+/g, (run) => {
    const bytes: Buffer[] = [];
    for (const [, encoding, text] of run.matchAll(/=\?[^?]+\?([BbQq])\?([^?]*)\?=/g)) {
      bytes.push(
        encoding?.toUpperCase() === 'B'
          ? Buffer.from(text ?? '', 'base64')
          : quotedPrintable((text ?? '').replace(/_/g, ' ')),
      );
    }
    return Buffer.concat(bytes).toString('utf8');
  });
}

function decodeBody(body: string, encoding = '7bit'): string {
  const e = encoding.toLowerCase();
  const content = body.replace(/\r\n$/, '');
  if (e === 'base64') return Buffer.from(content.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (e === 'quoted-printable') return quotedPrintable(content.replace(/=\r\n/g, '')).toString('utf8');
  return content;
}

function quotedPrintable(text: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(text[i] as string, 'utf8'));
    }
  }
  return Buffer.from(out);
}
