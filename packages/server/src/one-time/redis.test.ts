/**
 * The Redis one-time store on the shared server: the conformance suite with a second connection
 * standing for another instance, then native expiry and arguments.
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../errors.js';
import { type RedisCluster, startRedisCluster } from '../test/redis-servers.js';
import { REDIS_URL, serviceAvailable } from '../test/services.js';
import { runOneTimeTokenStoreConformance } from './conformance.js';
import { createRedisOneTimeStore } from './redis.js';
import type { OneTimeTokenStore } from './store.js';
import { createOneTimeTokens } from './tokens.js';

const hasRedis = await serviceAvailable('redis', 6379);
const newPrefix = () => `lk-test:${randomBytes(4).toString('hex')}:`;

describe.runIf(hasRedis)('redis one-time store', () => {
  const admin = new Redis(REDIS_URL);
  afterAll(() => admin.quit());
  const keysOf = (prefix: string) => admin.keys(`${prefix}*`); // a test prefix holds a handful of keys

  /** Each test: its own key prefix and its own connections, so one can be closed (breakStore). */
  const opened = new Map<OneTimeTokenStore, { prefix: string; clients: Redis[] }>();
  runOneTimeTokenStoreConformance({
    name: 'redis (two connections)',
    createStore() {
      const prefix = newPrefix();
      const client = new Redis(REDIS_URL);
      const store = createRedisOneTimeStore(client, { keyPrefix: prefix });
      opened.set(store, { prefix, clients: [client] });
      return store;
    },
    createPeer(store) {
      const entry = opened.get(store);
      const client = new Redis(REDIS_URL);
      entry?.clients.push(client);
      return createRedisOneTimeStore(client, { keyPrefix: entry?.prefix });
    },
    async destroyStore(store) {
      const entry = opened.get(store);
      opened.delete(store);
      if (entry === undefined) return;
      const keys = await keysOf(entry.prefix);
      if (keys.length > 0) await admin.del(...keys);
      for (const client of entry.clients) client.disconnect();
    },
    breakStore: (store) => opened.get(store)?.clients[0]?.disconnect(),
    async readRaw(store) {
      const parts: string[] = [];
      for (const key of await keysOf(opened.get(store)?.prefix ?? '')) {
        const type = await admin.type(key);
        const value = type === 'hash' ? JSON.stringify(await admin.hgetall(key)) : await admin.get(key);
        parts.push(key, String(value));
      }
      return parts.join('\n');
    },
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it('expires natively: the pointer at the token’s end, the user’s hash at the latest end it holds', async () => {
    const prefix = newPrefix();
    const store = createRedisOneTimeStore(admin, { keyPrefix: prefix });
    try {
      const t0 = Date.now();
      const oneTime = createOneTimeTokens({ store, now: () => t0 });
      const verify = await oneTime.issue('user-1', 'verify-email');
      const reset = await oneTime.issue('user-1', 'reset-password');
      const hashed = (await keysOf(`${prefix}one-time:token:`)).sort();
      expect(hashed).toHaveLength(2);
      const ends = await Promise.all(hashed.map((key) => admin.pexpiretime(key)));
      expect(ends.sort()).toEqual([reset.expiresAt, verify.expiresAt].sort());
      expect(await admin.pexpiretime(`${prefix}one-time:user:{user-1}`)).toBe(verify.expiresAt);
      // A newer reset token drops the older one's pointer; the user's hash names only the newer.
      await oneTime.issue('user-1', 'reset-password');
      expect(await keysOf(`${prefix}one-time:token:`)).toHaveLength(2);
      expect(await oneTime.consume(reset.token, 'reset-password')).toBeNull();
    } finally {
      const keys = await keysOf(prefix);
      if (keys.length > 0) await admin.del(...keys);
    }
  });

  it('returns data byte for byte (Lua never decodes it)', async () => {
    const prefix = newPrefix();
    const store = createRedisOneTimeStore(admin, { keyPrefix: prefix });
    try {
      const oneTime = createOneTimeTokens({ store });
      const data = { list: [], empty: {}, pi: Math.PI, big: 2 ** 53 - 1, text: 'é"\\/\u0000' };
      const { token } = await oneTime.issue('user-2', 'change-email', { data });
      expect((await oneTime.consume(token, 'change-email'))?.data).toEqual(data);
    } finally {
      const keys = await keysOf(prefix);
      if (keys.length > 0) await admin.del(...keys);
    }
  });
});

describe('redis one-time store on a three-master Redis Cluster', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
    await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  }, 60_000);
  afterAll(async () => {
    client.disconnect();
    await cluster.destroy();
  });
  // Each script touches one key, so no script crosses slots; the sweep scans every master.
  runOneTimeTokenStoreConformance({
    name: 'redis (Cluster, 3 masters)',
    createStore: () => createRedisOneTimeStore(client, { keyPrefix: newPrefix() }),
    describe,
    it,
    beforeEach,
    afterEach,
  });
});

describe('redis one-time store arguments', () => {
  it('a URL is refused without being quoted (it may hold a password)', () => {
    const url = 'redis://:s3cret-pw@cache.example:6379';
    expect(() => createRedisOneTimeStore(url as never)).toThrow(ConfigurationError);
    expect(() => createRedisOneTimeStore(url as never)).toThrow(
      "createRedisOneTimeStore takes an ioredis client, not a URL: createRedisOneTimeStore(new Redis(process.env.REDIS_URL)), with import { Redis } from 'ioredis'",
    );
  });
});
