/**
 * Invalidation messages over Redis pub/sub, for `createCachedStore`. The subscription uses its own
 * connection (a duplicate of the one given); while it is down, the cache is told, and caches
 * nothing until it is subscribed again.
 */
import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import { checkRedisClient } from '../lib/drivers.js';
import { checkOptions, checkString } from '../lib/options.js';
import type { InvalidationBus } from './cached.js';

/** Options of `createRedisInvalidation`. */
export interface RedisInvalidationOptions {
  /** The pub/sub channel; every instance that shares the store must use the same one. Default `latchkey:invalidate`. */
  channel?: string;
}

/**
 * @example
 * const bus = createRedisInvalidation(redis);
 * const store = await createCachedStore(createRedisStore(redis), { bus });
 */
export function createRedisInvalidation(client: Redis | Cluster, options?: RedisInvalidationOptions): InvalidationBus {
  checkRedisClient('createRedisInvalidation', client, 'createRedisInvalidation(new Redis(process.env.REDIS_URL))');
  const o = checkOptions('createRedisInvalidation', options, ['channel']);
  const channel = checkString('channel', o.channel, { default: 'latchkey:invalidate', maxLength: 200 });
  return {
    async publish(message) {
      await client.publish(channel, message);
    },
    async subscribe(onMessage, onLive) {
      // Both Redis and Cluster have duplicate(); their signatures differ, the result is the same kind.
      const subscriber: Redis | Cluster = 'nodes' in client ? client.duplicate() : client.duplicate();
      subscriber.on('error', () => {}); // connection errors surface as 'close' below
      subscriber.on('message', (from: string, message: string) => {
        if (from === channel) onMessage(message);
      });
      // Messages sent while the connection is down are lost: say so at once.
      subscriber.on('close', () => onLive(false));
      subscriber.on('ready', () => {
        // After a reconnect: subscribe again before declaring delivery live.
        subscriber.subscribe(channel).then(
          () => onLive(true),
          () => onLive(false),
        );
      });
      await new Promise<void>((resolve, reject) => {
        const ready = () => resolve();
        subscriber.once('ready', ready);
        subscriber.once('end', () =>
          reject(
            new StoreUnavailableError(
              'the Redis invalidation subscriber could not connect: check that Redis is up and the client can reach it',
            ),
          ),
        );
      });
      await subscriber.subscribe(channel);
      onLive(true);
      return async () => {
        subscriber.removeAllListeners('close');
        subscriber.disconnect();
      };
    },
  };
}
