import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidArgumentError, MailDeliveryError } from '../errors.js';
import { closedPort, startSmtpServer, type TestSmtpServer } from '../test/smtp.js';
import type { Mailer, MailMessage } from './mailer.js';
import { createMailQueue, type MailFailure } from './queue.js';
import { createSmtpMailer } from './smtp.js';

const TOKEN = 'kP2-q9Zr7tWx4Lm0Nb8Vc6Hs3Jd1Fg5Ay2Eu7Io9Q';
const PASSWORD = 'relay-pa55word';
const message = (n = 1): MailMessage => ({
  to: `user${n}@example.com`,
  subject: 'Reset your password',
  text: `https://app.example/reset#${TOKEN}`,
  html: `<a href="https://app.example/reset#${TOKEN}">Reset</a>`,
});

const servers: TestSmtpServer[] = [];
const start = async (options?: Parameters<typeof startSmtpServer>[0]) => {
  const server = await startSmtpServer(options);
  servers.push(server);
  return server;
};
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Records what onError is given, and checks it carries no body, no token and no password. */
function recorder() {
  const failures: (MailFailure & { error: unknown })[] = [];
  const onError = (error: unknown, failure: MailFailure) => {
    const printed = inspect([error, failure], { depth: Number.POSITIVE_INFINITY, showHidden: true });
    for (const secret of [TOKEN, PASSWORD, 'Reset your password', 'https://app.example']) {
      expect(printed).not.toContain(secret);
    }
    failures.push({ ...failure, error });
  };
  return { failures, onError };
}

const timed = async (work: Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await work;
  return performance.now() - started;
};

describe('createMailQueue over a real SMTP server', () => {
  it('send resolves at once while the server is slow, and the mail arrives in the background', async () => {
    const server = await start({ greetingDelayMs: 400 });
    const queue = createMailQueue(createSmtpMailer({ url: server.url, from: 'a@example.com' }));
    expect(await timed(queue.send(message()))).toBeLessThan(100);
    expect(queue.size).toBe(1);
    expect(server.received).toHaveLength(0);
    await queue.drain();
    expect(queue.size).toBe(0);
    expect(server.received.map((m) => [m.envelope.to, m.text])).toEqual([
      [['user1@example.com'], `https://app.example/reset#${TOKEN}`],
    ]);
  });

  it('a server that is down: send still resolves at once, each attempt is retried, onError gets no body or token', async () => {
    const port = await closedPort();
    const { failures, onError } = recorder();
    const delays: number[] = [];
    const queue = createMailQueue(
      createSmtpMailer({ url: `smtp://app:${PASSWORD}@127.0.0.1:${port}`, from: 'a@example.com' }),
      {
        retries: 2,
        backoff: (retry) => {
          delays.push(retry);
          return 20;
        },
        onError,
      },
    );
    expect(await timed(queue.send(message()))).toBeLessThan(100);
    await queue.drain();
    expect(failures.map(({ to, attempt, willRetry }) => ({ to, attempt, willRetry }))).toEqual([
      { to: 'user1@example.com', attempt: 1, willRetry: true },
      { to: 'user1@example.com', attempt: 2, willRetry: true },
      { to: 'user1@example.com', attempt: 3, willRetry: false },
    ]);
    expect(delays).toEqual([1, 2]);
    expect(failures[0]?.error).toBeInstanceOf(MailDeliveryError);
    expect(String(failures[0]?.error)).toMatch(/could not be reached \(ECONNREFUSED\)/);
  });

  it('a slow server past the deadline is retried, and a later attempt delivers', async () => {
    let slow = true;
    const server = await start({ greetingDelayMs: 600 });
    const fast = await start();
    const { failures, onError } = recorder();
    // The first attempt goes to the slow server; the retry to the fast one (the server "recovered").
    const slowMailer = createSmtpMailer({ url: server.url, from: 'a@example.com', timeoutMs: 150 });
    const fastMailer = createSmtpMailer({ url: fast.url, from: 'a@example.com' });
    const mailer: Mailer = {
      send: (m) => {
        const target = slow ? slowMailer : fastMailer;
        slow = false;
        return target.send(m);
      },
    };
    const queue = createMailQueue(mailer, { backoff: 10, onError });
    expect(await timed(queue.send(message()))).toBeLessThan(100);
    await queue.drain();
    expect(failures.map((f) => [f.attempt, f.willRetry, (f.error as Error).message])).toEqual([
      [1, true, `the SMTP server at 127.0.0.1:${server.port} did not answer within 150 ms (timeoutMs)`],
    ]);
    expect(fast.received).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 700));
    expect(server.received).toHaveLength(0);
  });

  it('a transient refusal (451) is retried until accepted; one copy arrives', async () => {
    const server = await start({ refuse: (attempt) => (attempt <= 2 ? 451 : undefined) });
    const { failures, onError } = recorder();
    const queue = createMailQueue(createSmtpMailer({ url: server.url, from: 'a@example.com' }), {
      backoff: () => 5,
      onError,
    });
    await queue.send(message());
    await queue.drain();
    expect(failures.map((f) => [f.attempt, f.willRetry, (f.error as MailDeliveryError).responseCode])).toEqual([
      [1, true, 451],
      [2, true, 451],
    ]);
    expect(server.attempts).toBe(3);
    expect(server.received).toHaveLength(1);
  });

  it('a permanent refusal (554) is not retried', async () => {
    const server = await start({ refuse: () => 554 });
    const { failures, onError } = recorder();
    const queue = createMailQueue(createSmtpMailer({ url: server.url, from: 'a@example.com' }), {
      backoff: () => 5,
      onError,
    });
    await queue.send(message());
    await queue.drain();
    expect(failures.map((f) => [f.attempt, f.willRetry, (f.error as MailDeliveryError).permanent])).toEqual([
      [1, false, true],
    ]);
    expect(server.attempts).toBe(1);
  });

  it('delivers many messages, each once', async () => {
    const server = await start();
    const queue = createMailQueue(createSmtpMailer({ url: server.url, from: 'a@example.com' }));
    await Promise.all(Array.from({ length: 10 }, (_, i) => queue.send(message(i))));
    await queue.drain();
    expect(server.received.map((m) => m.envelope.to[0]).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `user${i}@example.com`).sort(),
    );
  });
});

describe('createMailQueue', () => {
  /** A mailer that holds each send until released, to fill the queue for real. */
  function heldMailer() {
    const sent: MailMessage[] = [];
    const held: (() => void)[] = [];
    const mailer: Mailer = {
      send: (m) =>
        new Promise<void>((resolve) => {
          held.push(() => {
            sent.push(m);
            resolve();
          });
        }),
    };
    return {
      mailer,
      sent,
      release: () => {
        for (const go of held.splice(0)) go();
      },
    };
  }

  it('drops past maxQueued and reports it, still resolving send', async () => {
    const { mailer, sent, release } = heldMailer();
    const { failures, onError } = recorder();
    const queue = createMailQueue(mailer, { maxQueued: 2, concurrency: 1, onError });
    await queue.send(message(1));
    await queue.send(message(2));
    await expect(queue.send(message(3))).resolves.toBeUndefined();
    expect(queue.size).toBe(2);
    expect(failures.map(({ to, attempt, willRetry }) => ({ to, attempt, willRetry }))).toEqual([
      { to: 'user3@example.com', attempt: 0, willRetry: false },
    ]);
    expect(String(failures[0]?.error)).toMatch(/^MailDeliveryError: the mail queue is full \(2 messages, maxQueued\)/);
    const drained = queue.drain();
    for (let i = 0; i < 10 && sent.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 5));
      release();
    }
    await drained;
    expect(sent.map((m) => m.to)).toEqual(['user1@example.com', 'user2@example.com']);
  });

  it('rejects a message it will not send at once (a bug in the caller), and queues nothing', async () => {
    const { mailer } = heldMailer();
    const queue = createMailQueue(mailer);
    await expect(queue.send({ ...message(), to: 'a@example.com\r\nBcc: x@attacker.example' })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(queue.send({ ...message(), subject: 'Hi\r\nBcc: x@attacker.example' })).rejects.toThrow(
      /^subject holds a line break/,
    );
    expect(queue.size).toBe(0);
    await expect(queue.drain()).resolves.toBeUndefined();
  });

  it('survives an onError and a backoff that throw, and a mailer that throws synchronously', async () => {
    let calls = 0;
    const mailer: Mailer = {
      send: () => {
        calls++;
        throw new Error('synchronous failure');
      },
    };
    const queue = createMailQueue(mailer, {
      retries: 1,
      backoff: () => {
        throw new Error('bad backoff');
      },
      onError: () => {
        throw new Error('bad logger');
      },
    });
    await queue.send(message());
    await queue.drain();
    expect(calls).toBe(2);
  });

  it('by default prints one line when a message is given up: latchkey’s message, never the body', async () => {
    const port = await closedPort();
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const queue = createMailQueue(createSmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'a@example.com' }), {
        retries: 1,
        backoff: 0,
      });
      await queue.send(message());
      await queue.drain();
      expect(spy.mock.calls).toEqual([
        [
          `latchkey/mail: a message was not sent after 2 attempts (MAIL_NOT_SENT: the SMTP server at 127.0.0.1:${port} could not be reached (ECONNREFUSED): check the host and port in the url, and that the server runs)`,
        ],
      ]);
      // Another mailer's error may hold anything: only its class name is printed.
      spy.mockClear();
      const leaky = createMailQueue(
        { send: () => Promise.reject(new Error(`failed to send ${TOKEN}`)) },
        { retries: 0 },
      );
      await leaky.send(message());
      await leaky.drain();
      expect(spy.mock.calls).toEqual([['latchkey/mail: a message was not sent after 1 attempt (Error)']]);
    } finally {
      spy.mockRestore();
    }
  });

  it('checks its options', () => {
    const { mailer } = heldMailer();
    expect(() => createMailQueue({} as Mailer)).toThrow(/^createMailQueue needs a Mailer/);
    expect(() => createMailQueue(mailer, { retries: 11 })).toThrow(/^retries must be a whole number from 0 to 10/);
    expect(() => createMailQueue(mailer, { attempts: 3 } as never)).toThrow(/did you mean "retries"/);
    expect(() => createMailQueue(mailer, { backoff: 120_000 })).toThrow(/^backoff must be/);
    expect(() => createMailQueue(mailer, { onError: 'log' } as never)).toThrow(/^onError must be a function/);
  });
});
