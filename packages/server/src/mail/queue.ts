/**
 * A `Mailer` in front of another whose `send` resolves as soon as the message is checked and
 * queued, and which delivers in the background, retrying with back-off. An HTTP answer then never
 * waits for the mail server: a slow server does not slow the answer, a down one does not turn a
 * 202 into a 500, and the answer's timing does not tell which of two mails was sent (the one for
 * a known address or the one for an unknown one).
 *
 * In memory only: messages still queued when the process exits are lost. Call `drain()` on
 * shutdown; the user can ask for another link.
 */
import { InvalidArgumentError, LatchkeyError, MailDeliveryError } from '../errors.js';
import { checkFunction, checkNumber, checkOptions } from '../lib/options.js';
import type { Mailer, MailMessage } from './mailer.js';
import { checkMailMessage } from './message.js';

/**
 * What `onError` is told about a failure, besides the error. Never the message's subject or body.
 *
 * @example
 * const onError = (error: unknown, { to, attempt, willRetry }: MailFailure) =>
 *   log[willRetry ? 'warn' : 'error']({ err: error, attempt }, willRetry ? 'mail failed, will retry' : 'mail given up');
 */
export interface MailFailure {
  /** The recipient. */
  to: string;
  /** Which attempt failed, from 1; 0 when the message was dropped before any (the queue was full). */
  attempt: number;
  /** Another attempt is scheduled. When false, the message is given up. */
  willRetry: boolean;
}

/**
 * Options of `createMailQueue`.
 *
 * @example
 * const queue = createMailQueue(smtp, { retries: 5, backoff: 2000, maxQueued: 500, onError });
 */
export interface MailQueueOptions {
  /** Attempts after the first failed one. Default 3; 0 to 10. A permanent refusal (5xx) is never retried. */
  retries?: number;
  /**
   * Milliseconds to wait before retry `n` (from 1). A number is the first wait, doubled each time
   * (1000: 1 s, 2 s, 4 s, at most a minute), with up to a fifth added at random so that instances
   * do not retry in step. Default 1000.
   */
  backoff?: number | ((retry: number) => number);
  /** Messages waiting or in flight at most; past it a message is dropped and reported. Default 1000. */
  maxQueued?: number;
  /** Messages sent at the same time. Default 2. */
  concurrency?: number;
  /**
   * Called for each failed attempt and each dropped message, with the error (a `MailDeliveryError`
   * from the SMTP mailer: no body, no password) and a `MailFailure`. Default: one line on
   * `console.error` when a message is given up. A function that throws is ignored.
   */
  onError?: (error: unknown, failure: MailFailure) => void;
}

/**
 * What `createMailQueue` returns: a `Mailer` whose `send` resolves once the message is queued.
 *
 * @example
 * const queue: MailQueue = createMailQueue(smtp);
 * app.get('/health', () => ({ mailQueued: queue.size }));
 */
export interface MailQueue extends Mailer {
  /** Checks the message (rejecting with `InvalidArgumentError` at once), queues it and resolves. */
  send(message: MailMessage): Promise<void>;
  /** Resolves when nothing is queued, in flight or waiting for a retry: for tests and shutdown. */
  drain(): Promise<void>;
  /** Messages queued, in flight or waiting for a retry. */
  readonly size: number;
}

interface Job {
  message: MailMessage;
  attempt: number;
}

/**
 * Puts `mailer` behind an in-memory queue: `send` checks the message and resolves at once; the
 * message is delivered in the background, `concurrency` at a time, with `retries` more attempts
 * after `backoff` when one fails (never after a permanent 5xx refusal). Failures go to `onError`,
 * with no body.
 *
 * @example
 * const mailer = createMailQueue(createSmtpMailer({ url, from }), {
 *   onError: (error, { to, attempt, willRetry }) =>
 *     log[willRetry ? 'warn' : 'error']({ err: error, attempt }, 'mail not sent'),
 * });
 * await mailer.send({ to, subject, text }); // resolves at once
 * process.on('SIGTERM', () => mailer.drain().then(() => process.exit(0)));
 */
export function createMailQueue(mailer: Mailer, options?: MailQueueOptions): MailQueue {
  if (mailer === null || typeof mailer !== 'object' || typeof mailer.send !== 'function') {
    throw new InvalidArgumentError(
      'createMailQueue needs a Mailer (an object with send(message)): createSmtpMailer(...) or createDevInbox()',
    );
  }
  const o = checkOptions('createMailQueue', options, ['retries', 'backoff', 'maxQueued', 'concurrency', 'onError'], {
    attempts: 'retries',
    maxRetries: 'retries',
    delay: 'backoff',
    limit: 'maxQueued',
    max: 'maxQueued',
  });
  const retries = checkNumber('retries', o.retries, { default: 3, min: 0, max: 10, integer: true });
  const maxQueued = checkNumber('maxQueued', o.maxQueued, { default: 1000, min: 1, max: 1_000_000, integer: true });
  const concurrency = checkNumber('concurrency', o.concurrency, { default: 2, min: 1, max: 100, integer: true });
  const delay = checkBackoff(o.backoff);
  const onError = checkFunction('onError', o.onError, reportGivenUp);

  const ready: Job[] = [];
  let inFlight = 0;
  let waiting = 0; // jobs between a failure and their retry
  let drained: (() => void)[] = [];

  const size = () => ready.length + inFlight + waiting;
  const report = (error: unknown, failure: MailFailure) => {
    try {
      onError(error, failure);
    } catch {
      // A logger that throws must not stop the queue or reach the caller of send.
    }
  };
  const settle = () => {
    if (size() > 0) return;
    const waiters = drained;
    drained = [];
    for (const resolve of waiters) resolve();
  };
  const pump = () => {
    while (inFlight < concurrency && ready.length > 0) {
      const job = ready.shift() as Job;
      inFlight++;
      job.attempt++;
      // The mailer's own promise, caught: a failure is reported, never an unhandled rejection.
      Promise.resolve()
        .then(() => mailer.send(job.message))
        .then(
          () => finish(),
          (error: unknown) => {
            const permanent = (error as { permanent?: unknown } | null)?.permanent === true;
            const willRetry = job.attempt <= retries && !permanent && !(error instanceof InvalidArgumentError);
            report(error, { to: job.message.to, attempt: job.attempt, willRetry });
            if (willRetry) {
              waiting++;
              setTimeout(() => {
                waiting--;
                ready.push(job);
                pump();
              }, delay(job.attempt));
            }
            finish();
          },
        );
    }
  };
  const finish = () => {
    inFlight--;
    pump();
    settle();
  };

  return {
    async send(message: MailMessage): Promise<void> {
      const checked = checkMailMessage(message);
      if (size() >= maxQueued) {
        // Dropped, not refused: the caller's answer must not depend on the mail server's state.
        report(
          new MailDeliveryError(
            `the mail queue is full (${maxQueued} messages, maxQueued): is the mail server down or slow? The message was dropped`,
          ),
          { to: checked.to, attempt: 0, willRetry: false },
        );
        return;
      }
      ready.push({ message: checked, attempt: 0 });
      // After this answer: the mailer's own synchronous work (building the MIME message) never delays it.
      setImmediate(pump);
    },
    drain(): Promise<void> {
      if (size() === 0) return Promise.resolve();
      return new Promise((resolve) => drained.push(resolve));
    },
    get size() {
      return size();
    },
  };
}

function checkBackoff(value: unknown): (retry: number) => number {
  if (typeof value === 'function') {
    const f = value as (retry: number) => number;
    return (retry) => {
      let ms: unknown;
      try {
        ms = f(retry);
      } catch {
        ms = undefined; // a back-off function that throws retries at once rather than stopping the queue
      }
      return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 3_600_000) : 0;
    };
  }
  const first = checkNumber('backoff', value, { default: 1000, min: 0, max: 60_000, unit: 'milliseconds' });
  return (retry) => Math.min(first * 2 ** (retry - 1), 60_000) * (1 + Math.random() / 5);
}

/** The default `onError`: a line when a message is given up, with the error's code and, for latchkey's own errors, its message. */
function reportGivenUp(error: unknown, { attempt, willRetry }: MailFailure): void {
  if (willRetry) return;
  // Only latchkey's messages are known to hold no body and no password; another mailer's may.
  const detail =
    error instanceof LatchkeyError
      ? `${error.code}: ${error.message}`
      : error instanceof Error
        ? error.name
        : 'an error';
  console.error(
    `latchkey/mail: a message was not sent${attempt > 0 ? ` after ${attempt} attempt${attempt === 1 ? '' : 's'}` : ''} (${detail})`,
  );
}
