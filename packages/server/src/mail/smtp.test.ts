import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidArgumentError, MailDeliveryError } from '../errors.js';
import { closedPort, startSmtpServer, type TestSmtpServer } from '../test/smtp.js';
import { createSmtpMailer } from './smtp.js';

const TOKEN = 'Xq7-tok3n-9fJ2kL0pZ8sR4vB6nM1cA5dE3gH7iK0';
const PASSWORD = 'pa55:w/rd@secret';
const servers: TestSmtpServer[] = [];
const start = async (options?: Parameters<typeof startSmtpServer>[0]) => {
  const server = await startSmtpServer(options);
  servers.push(server);
  return server;
};
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Everything an error carries, as a logger with `depth: Infinity` would print it. */
const everything = (error: unknown) => inspect(error, { depth: Number.POSITIVE_INFINITY, showHidden: true });

const rejection = async (work: Promise<unknown>): Promise<Error> => {
  try {
    await work;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
};

describe('createSmtpMailer over a real SMTP server', () => {
  it('delivers one message: From, To, Subject, both bodies and the envelope as given', async () => {
    const server = await start();
    const mailer = createSmtpMailer({ url: server.url, from: 'no-reply@example.com', fromName: 'Example App' });
    await mailer.send({
      to: 'Ann@Example.COM',
      subject: 'Reset your password',
      text: `Open this link within 30 minutes:\nhttps://app.example/reset#${TOKEN}`,
      html: `<p><a href="https://app.example/reset#${TOKEN}">Reset</a></p>`,
    });
    expect(server.received).toHaveLength(1);
    const [mail] = server.received;
    expect(mail?.envelope).toEqual({ from: 'no-reply@example.com', to: ['Ann@example.com'] });
    expect(mail?.headers.from).toBe('Example App <no-reply@example.com>');
    expect(mail?.headers.to).toBe('Ann@example.com');
    expect(mail?.headers.subject).toBe('Reset your password');
    expect(mail?.headers['auto-submitted']).toBe('auto-generated');
    expect(mail?.headers.bcc).toBeUndefined();
    expect(mail?.text).toBe(
      `Open this link within 30 minutes:\nhttps://app.example/reset#${TOKEN}`.replace(/\n/g, '\r\n'),
    );
    expect(mail?.html).toBe(`<p><a href="https://app.example/reset#${TOKEN}">Reset</a></p>`);
  });

  it('sends to an internationalised domain, with a non-ASCII local part, subject and name', async () => {
    const server = await start();
    const mailer = createSmtpMailer({ url: server.url, from: 'bonjour@bücher.example', fromName: 'Bücher & Co' });
    await mailer.send({ to: 'ann@MÜNCHEN.example', subject: 'Grüße – bestätigen Sie', text: 'Schöne Grüße' });
    // RFC 6531: a non-ASCII local part travels as UTF-8 (SMTPUTF8), the domain with it.
    await mailer.send({ to: 'jörg@münchen.example', subject: 'Hallo', text: 'x' });
    const [ascii, utf8] = await server.waitFor(2);
    expect(ascii?.headers.to).toBe('ann@xn--mnchen-3ya.example');
    expect(ascii?.headers.from).toBe('Bücher & Co <bonjour@xn--bcher-kva.example>');
    expect(ascii?.headers.subject).toBe('Grüße – bestätigen Sie');
    expect(ascii?.text).toBe('Schöne Grüße');
    // smtp-server shows envelope domains in Unicode.
    expect(ascii?.envelope).toEqual({ from: 'bonjour@bücher.example', to: ['ann@münchen.example'] });
    expect(utf8?.headers.to).toBe('jörg@münchen.example');
    expect(utf8?.envelope.to).toEqual(['jörg@münchen.example']);
  });

  it('very long addresses: up to the limits it sends, past them it refuses without connecting', async () => {
    const server = await start();
    const mailer = createSmtpMailer({ url: server.url, from: 'no-reply@example.com' });
    const domain = (f: number) => `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(f)}.example`;
    const longest = `${'a'.repeat(64)}@${domain(52)}`; // 253 octets: smtp-server's limit, one under RFC 5321's
    await mailer.send({ to: longest, subject: 'Long', text: 'x' });
    expect(server.received.map((m) => m.envelope.to)).toEqual([[longest]]);
    // 254 octets is RFC 5321's limit, which this server counts one lower: a permanent refusal.
    const refused = await rejection(mailer.send({ to: `${'a'.repeat(64)}@${domain(53)}`, subject: 'Long', text: 'x' }));
    expect(refused).toMatchObject({ code: 'MAIL_NOT_SENT', permanent: true, responseCode: 501 });
    expect(refused.message).toBe(
      `the SMTP server at 127.0.0.1:${server.port} refused the sender or the recipient (501) at RCPT TO`,
    );
    const connections = server.connections;
    await expect(mailer.send({ to: `${'a'.repeat(64)}@${domain(54)}`, subject: 'Long', text: 'x' })).rejects.toThrow(
      /^to is not a usable e-mail address: it is longer than 254 octets/,
    );
    await expect(mailer.send({ to: `${'a'.repeat(65)}@example.com`, subject: 'Long', text: 'x' })).rejects.toThrow(
      /more than 64 octets before the @/,
    );
    expect(server.connections).toBe(connections);
    expect(server.received).toHaveLength(1);
  });

  it('refuses header injection in to, subject, from and fromName: nothing extra arrives, nothing is quoted', async () => {
    const server = await start();
    const mailer = createSmtpMailer({ url: server.url, from: 'no-reply@example.com' });
    const injected = [
      { to: 'ann@example.com\r\nBcc: x@attacker.example', subject: 'Hi', text: 'x' },
      { to: 'ann@example.com\nBcc: x@attacker.example', subject: 'Hi', text: 'x' },
      { to: 'ann@example.com, x@attacker.example', subject: 'Hi', text: 'x' },
      { to: 'Ann <x@attacker.example>', subject: 'Hi', text: 'x' },
      { to: 'ann@example.com', subject: 'Hi\r\nBcc: x@attacker.example', text: 'x' },
      { to: 'ann@example.com', subject: 'Hi\r\n\r\nforged body', text: 'x' },
    ];
    for (const message of injected) {
      const error = await rejection(mailer.send(message));
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).not.toMatch(/attacker|Bcc|forged/);
    }
    expect(() =>
      createSmtpMailer({ url: server.url, from: 'no-reply@example.com\r\nBcc: x@attacker.example' }),
    ).toThrow(ConfigurationError);
    expect(() =>
      createSmtpMailer({ url: server.url, from: 'no-reply@example.com\r\nBcc: x@attacker.example' }),
    ).toThrow(/^from is not a usable e-mail address: it holds a line break/);
    expect(() => createSmtpMailer({ url: server.url, from: 'Bank <no-reply@example.com>' })).toThrow(
      /display name.*fromName/,
    );
    expect(() =>
      createSmtpMailer({
        url: server.url,
        from: 'no-reply@example.com',
        fromName: 'Example\r\nBcc: x@attacker.example',
      }),
    ).toThrow(/^fromName must be one line of text/);
    await mailer.send({ to: 'ann@example.com', subject: 'Hi', text: 'x' });
    expect(server.received.map((m) => m.envelope.to)).toEqual([['ann@example.com']]);
    expect(server.connections).toBe(1);
  });

  it('logs in with the credentials in the URL (percent-encoded), and a refused login names neither them nor the body', async () => {
    const server = await start({ login: { user: 'app', pass: PASSWORD } });
    const url = (pass: string) => server.url.replace('//', `//app:${encodeURIComponent(pass)}@`);
    await createSmtpMailer({ url: url(PASSWORD), from: 'no-reply@example.com' }).send({
      to: 'ann@example.com',
      subject: 'Hi',
      text: TOKEN,
    });
    expect(server.received).toHaveLength(1);

    const wrong = createSmtpMailer({ url: url(`${PASSWORD}-old`), from: 'no-reply@example.com' });
    const error = await rejection(wrong.send({ to: 'ann@example.com', subject: 'Hi', text: TOKEN }));
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect(error.message).toBe(
      `the SMTP server at 127.0.0.1:${server.port} refused the login (535): check the user name and password in the url`,
    );
    expect(error).toMatchObject({ code: 'MAIL_NOT_SENT', permanent: true, responseCode: 535 });
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), TOKEN])
      expect(everything(error)).not.toContain(secret);
    await expect(wrong.verify()).rejects.toThrow(/refused the login/);
    expect(server.received).toHaveLength(1);
  });

  it('a server that is down: MailDeliveryError naming host and port, not permanent', async () => {
    const port = await closedPort();
    const mailer = createSmtpMailer({
      url: `smtp://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}`,
      from: 'a@example.com',
    });
    const error = await rejection(mailer.send({ to: 'ann@example.com', subject: 'Hi', text: TOKEN }));
    expect(error).toBeInstanceOf(MailDeliveryError);
    expect(error.message).toBe(
      `the SMTP server at 127.0.0.1:${port} could not be reached (ECONNREFUSED): check the host and port in the url, and that the server runs`,
    );
    expect((error as MailDeliveryError).permanent).toBe(false);
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), TOKEN])
      expect(everything(error)).not.toContain(secret);
  });

  it('a slow server: the send ends at timeoutMs, and nothing arrives later', async () => {
    const server = await start({ greetingDelayMs: 1500 });
    const mailer = createSmtpMailer({ url: server.url, from: 'a@example.com', timeoutMs: 300 });
    const started = performance.now();
    const error = await rejection(mailer.send({ to: 'ann@example.com', subject: 'Hi', text: TOKEN }));
    const took = performance.now() - started;
    expect(error.message).toBe(`the SMTP server at 127.0.0.1:${server.port} did not answer within 300 ms (timeoutMs)`);
    expect((error as MailDeliveryError).permanent).toBe(false);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(server.received).toHaveLength(0);
  });

  it('a refusal (554) is permanent, a 451 is not; neither quotes the server’s reply nor the body', async () => {
    const server = await start({ refuse: (attempt) => (attempt === 1 ? 554 : 451) });
    const mailer = createSmtpMailer({ url: server.url, from: 'a@example.com' });
    const message = { to: 'ann@example.com', subject: 'Hi', text: `https://app.example/reset#${TOKEN}` };
    const refused = (await rejection(mailer.send(message))) as MailDeliveryError;
    expect(refused.message).toBe(`the SMTP server at 127.0.0.1:${server.port} refused the message (554) at DATA`);
    expect(refused).toMatchObject({ permanent: true, responseCode: 554 });
    const later = (await rejection(mailer.send(message))) as MailDeliveryError;
    expect(later).toMatchObject({ permanent: false, responseCode: 451 });
    for (const error of [refused, later]) {
      expect(everything(error)).not.toContain(TOKEN);
      expect(everything(error)).not.toContain('refused by the test server');
    }
    expect(server.received).toHaveLength(0);
  });

  it('smtps:// with the server’s CA delivers; requireTLS refuses a server without STARTTLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-smtp-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      const key = readFileSync(join(dir, 'key.pem'), 'utf8');
      const secure = await start({ tls: { key, cert } });
      expect(secure.url).toMatch(/^smtps:/);
      await createSmtpMailer({ url: secure.url, from: 'a@example.com', tls: { ca: cert } }).send({
        to: 'ann@example.com',
        subject: 'Over TLS',
        text: 'x',
      });
      expect(secure.received.map((m) => m.headers.subject)).toEqual(['Over TLS']);
      // Without the CA the self-signed certificate is refused: TLS is verified, not just used.
      const untrusted = await rejection(
        createSmtpMailer({ url: secure.url, from: 'a@example.com' }).send({
          to: 'ann@example.com',
          subject: 'x',
          text: 'x',
        }),
      );
      expect(untrusted.message).toBe(
        `the SMTP server at 127.0.0.1:${secure.port} has a TLS certificate that is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT): give its CA in tls.ca, or its name in tls.servername if the url uses another`,
      );
      expect(secure.received).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const plain = await start();
    const error = await rejection(
      createSmtpMailer({ url: plain.url, from: 'a@example.com', requireTLS: true }).send({
        to: 'ann@example.com',
        subject: 'x',
        text: TOKEN,
      }),
    );
    expect(error.message).toMatch(/offers no STARTTLS, and requireTLS is on/);
    expect(plain.received).toHaveLength(0);
  });

  it('verify() checks the connection at start-up', async () => {
    const server = await start();
    await expect(createSmtpMailer({ url: server.url, from: 'a@example.com' }).verify()).resolves.toBeUndefined();
    const port = await closedPort();
    await expect(createSmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'a@example.com' }).verify()).rejects.toThrow(
      MailDeliveryError,
    );
  });
});

describe('createSmtpMailer options', () => {
  const from = 'no-reply@example.com';
  it('refuses a URL it cannot use, without quoting it (it may hold a password)', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /^url is required/],
      [42, /^url must be a string; got a number/],
      [`not a url ${PASSWORD}`, /^url is not a URL/],
      [`https://app:${encodeURIComponent(PASSWORD)}@mail.example.com`, /^url must start with smtp:\/\/ or smtps:\/\//],
      // An unencoded "/" in the password makes the rest a path.
      [`smtp://app:pa55/${PASSWORD}@mail.example.com:587`, /^url (takes no path|is not a URL)/],
      [`smtp://mail.example.com:587/?pool=true&pass=${PASSWORD}`, /^url takes no path, query or fragment/],
      [`smtp://:${encodeURIComponent(PASSWORD)}@mail.example.com`, /^url has a password but no user name/],
    ];
    for (const [url, expected] of cases) {
      let error: Error | undefined;
      try {
        createSmtpMailer({ url: url as string, from });
      } catch (e) {
        error = e as Error;
      }
      expect(error, String(url)).toBeInstanceOf(ConfigurationError);
      expect(error?.message, String(url)).toMatch(expected);
      expect(error?.message).not.toContain('pa55');
    }
  });

  it('names unknown options, and will not turn certificate checks off', () => {
    expect(() => createSmtpMailer({ url: 'smtp://127.0.0.1:2525', from, host: 'x' } as never)).toThrow(
      /unknown option "host"; did you mean "url"\?/,
    );
    expect(() =>
      createSmtpMailer({ url: 'smtp://127.0.0.1:2525', from, tls: { rejectUnauthorized: false } } as never),
    ).toThrow(/^tls got an unknown option "rejectUnauthorized"; did you mean "ca"\?/);
    expect(() => createSmtpMailer({ url: 'smtp://127.0.0.1:2525', from, timeoutMs: 10 })).toThrow(
      /^timeoutMs is in milliseconds; 10 looks like seconds \(use 10000\)/,
    );
    expect(() => createSmtpMailer({ url: 'smtp://127.0.0.1:2525', from: '' })).toThrow(/^from is not .* is empty/);
  });
});
