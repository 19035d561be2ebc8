/**
 * Invalidation messages over PostgreSQL LISTEN/NOTIFY, for `createCachedStore`. Listening needs a
 * connection of its own (a `pg.Client`); when it drops, the cache is told and the listener
 * reconnects with a growing delay.
 */

import { ConfigurationError } from '../errors.js';
import { checkOptions, checkString } from '../lib/options.js';
import type { InvalidationBus } from './cached.js';
import type { PgQueryable } from './postgres.js';

/** What the listener needs of a client: `pg.Client` has it. */
export interface PgListener {
  connect(): Promise<unknown>;
  query(text: string): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown;
  end(): Promise<void>;
}

/**
 * Options of `createPostgresInvalidation`: a connection to send NOTIFY on, and a way to open the
 * connection of its own that LISTENs. When that one drops, a new one is opened after 100 ms,
 * doubling to at most 5 s between tries.
 */
export interface PostgresInvalidationOptions {
  /** Runs NOTIFY (a pool is fine). */
  notify: PgQueryable;
  /** A new, unconnected listening client, each time it is called. */
  listener: () => PgListener;
  /**
   * The NOTIFY channel; every instance must use the same one. Letters, digits and `_`, not starting
   * with a digit (it is written into LISTEN as an identifier). Default `latchkey_invalidate`.
   */
  channel?: string;
}

/**
 * @example
 * const bus = createPostgresInvalidation({ notify: pool, listener: () => new pg.Client(url) });
 */
export function createPostgresInvalidation(options: PostgresInvalidationOptions): InvalidationBus {
  const o = checkOptions('createPostgresInvalidation', options, ['notify', 'listener', 'channel']);
  if (typeof o.notify?.query !== 'function') {
    throw new ConfigurationError('notify must be a pg Pool or Client (anything with query()): notify: pool');
  }
  if (typeof o.listener !== 'function') {
    throw new ConfigurationError(
      'listener must be a function that returns a new, unconnected pg.Client: listener: () => new pg.Client(url)',
    );
  }
  // Spliced into LISTEN as an identifier: letters, digits and _ only.
  const channel = checkString('channel', o.channel, {
    default: 'latchkey_invalidate',
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    expected: 'letters, digits and _ only, not starting with a digit',
    maxLength: 63,
  });
  return {
    async publish(message) {
      await options.notify.query('SELECT pg_notify($1, $2)', [channel, message]);
    },
    async subscribe(onMessage, onLive) {
      let closed = false;
      let current: PgListener | undefined;
      let delay = 100;
      const connect = async (): Promise<void> => {
        const client = options.listener();
        let lost = false;
        const onLost = () => {
          if (lost) return;
          lost = true;
          onLive(false);
          client.end().catch(() => {});
          if (!closed) setTimeout(() => void connect().catch(() => {}), delay).unref();
          delay = Math.min(delay * 2, 5000);
        };
        client.on('error', onLost);
        client.on('end', onLost);
        client.on('notification', (message) => {
          if (message.channel === channel && message.payload !== undefined) onMessage(message.payload);
        });
        try {
          await client.connect();
          await client.query(`LISTEN ${channel}`);
        } catch (error) {
          onLost();
          throw error;
        }
        current = client;
        delay = 100;
        onLive(true);
      };
      await connect();
      return async () => {
        closed = true;
        await current?.end().catch(() => {});
      };
    },
  };
}
