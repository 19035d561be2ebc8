import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, StoreUnavailableError } from '../errors.js';
import { type RedisCluster, startRedis, startRedisCluster } from '../test/redis-servers.js';
import { REDIS_URL, serviceAvailable } from '../test/services.js';
import { runStoreConformance, sampleRecord } from './conformance.js';
import { createRedisStore } from './redis.js';
import { createRedisInvalidation } from './redis-invalidation.js';

const hasRedis = await serviceAvailable('redis', 6379);
/** Each test gets its own key prefix, so no test sees another's keys. */
const isolated = (client: () => Redis | Cluster) => ({
  createStore: () => createRedisStore(client(), { keyPrefix: `lk-test:${randomBytes(4).toString('hex')}:` }),
});

describe.runIf(hasRedis)('redis store on the shared server', () => {
  const client = new Redis(REDIS_URL, { lazyConnect: false });
  afterAll(() => client.quit());
  runStoreConformance({
    name: 'redis (single server)',
    ...isolated(() => client),
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it('sets native TTLs: the pointer at expiresAt, the user keys at the absolute limit', async () => {
    const prefix = `lk-test:${randomBytes(4).toString('hex')}:`;
    const store = createRedisStore(client, { keyPrefix: prefix });
    const now = Date.now();
    const record = sampleRecord({
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 3_600_000,
    });
    await store.create(record, 10);
    expect(await client.pexpiretime(`${prefix}sid:{${record.id}}`)).toBe(record.expiresAt);
    expect(await client.pexpiretime(`${prefix}user:{${record.userId}}:rec`)).toBe(record.absoluteExpiresAt);
    await store.touch(record.id, now + 1000, now + 61_000);
    expect(await client.pexpiretime(`${prefix}sid:{${record.id}}`)).toBe(now + 61_000);
  });

  it('keeps session data byte for byte (no Lua JSON round trip)', async () => {
    const store = isolated(() => client).createStore();
    const data = { list: [], empty: {}, pi: Math.PI, big: 2 ** 53 - 1, text: 'é"\\/' };
    const record = sampleRecord({ data });
    await store.create(record, 10);
    expect((await store.get(record.id))?.data).toEqual(data);
    await store.setData(record.id, { again: [] });
    expect((await store.get(record.id))?.data).toEqual({ again: [] });
  });

  it("keeps a binding in the user's bind hash, expiring with the user's keys; unbound sessions have no field", async () => {
    const prefix = `lk-test:${randomBytes(4).toString('hex')}:`;
    const store = createRedisStore(client, { keyPrefix: prefix });
    const now = Date.now();
    const record = sampleRecord({
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 60_000,
      absoluteExpiresAt: now + 3_600_000,
    });
    await store.create(record, 10);
    const bind = `${prefix}user:{${record.userId}}:bind`;
    expect(await client.exists(bind)).toBe(0); // as for a session written before bindings existed
    expect((await store.get(record.id))?.binding).toBeNull();
    const binding = {
      publicKey: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
      algorithm: 'ES256',
      thumbprint: 'tp',
      boundAt: now,
      provenAt: now + 0.5, // not a whole number: the Lua comparison must still be exact
    };
    expect(await store.setBinding?.(record.id, binding, null)).toBe(true);
    expect(await client.hget(bind, record.id)).toBe(JSON.stringify(binding));
    expect(await client.pexpiretime(bind)).toBe(record.absoluteExpiresAt);
    const proven = { ...binding, provenAt: now + 2 ** 40 + 0.25 };
    expect(await store.setBinding?.(record.id, proven, binding)).toBe(true);
    expect((await store.get(record.id))?.binding).toEqual(proven);
    expect(await store.setBinding?.(record.id, null, proven)).toBe(true);
    expect(await client.exists(bind)).toBe(0);
    await store.setBinding?.(record.id, binding, null);
    await store.delete(record.id);
    expect(await client.exists(bind)).toBe(0);
  });
});

describe('redis store, failures', () => {
  it('a stopped server means StoreUnavailableError within the deadline, and recovery after restart', async () => {
    const server = await startRedis();
    const client = new Redis({
      port: server.port,
      host: '127.0.0.1',
      maxRetriesPerRequest: null,
      retryStrategy: () => 100,
    });
    client.on('error', () => {}); // reconnect noise while the server is down
    try {
      const store = createRedisStore(client, { timeoutMs: 300 });
      const record = sampleRecord({ expiresAt: Date.now() + 60_000, absoluteExpiresAt: Date.now() + 120_000 });
      await store.create(record, 10);
      await server.stop(true);
      const started = Date.now();
      await expect(store.get(record.id)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(1500);
      await server.start(); // a fresh, empty server (nothing is saved): the session is gone, not revived
      await expect
        .poll(
          () =>
            store.get(record.id).then(
              (r) => r === null,
              () => false,
            ),
          { timeout: 5000 },
        )
        .toBe(true);
    } finally {
      client.disconnect();
      await server.destroy();
    }
  });
});

describe('redis store on a three-master Redis Cluster', () => {
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
  runStoreConformance({
    name: 'redis (Cluster, 3 masters)',
    ...isolated(() => client),
    describe,
    it,
    beforeEach,
    afterEach,
  });

  it("keeps one user's keys in one slot, and spreads many users over every master", async () => {
    const prefix = `lk-test:${randomBytes(4).toString('hex')}:`;
    const store = createRedisStore(client, { keyPrefix: prefix });
    const users = Array.from({ length: 60 }, (_, i) => `spread-user-${i}`);
    for (const userId of users) {
      for (let i = 0; i < 3; i++) await store.create(sampleRecord({ userId, createdAt: 1_800_000_000_000 + i }), 10);
    }
    const perNode = await Promise.all(client.nodes('master').map((node) => node.keys(`${prefix}user:*`)));
    expect(perNode.every((keys) => keys.length > 0)).toBe(true); // every master holds some users
    const nodeOf = new Map<string, number>();
    const keysOf = new Map<string, number>();
    perNode.forEach((keys, node) => {
      for (const key of keys) {
        const tag = /\{([^}]+)\}/.exec(key)?.[1] as string;
        expect(nodeOf.get(tag) ?? node).toBe(node); // all of a user's keys on one node
        nodeOf.set(tag, node);
        keysOf.set(tag, (keysOf.get(tag) ?? 0) + 1);
      }
    });
    expect(nodeOf.size).toBe(users.length);
    expect(new Set(keysOf.values())).toEqual(new Set([5]));
    const userId = users[7] as string;
    expect(await store.deleteUser(userId)).toBe(3);
    expect(await store.listUser(userId)).toEqual([]);
  });
});

describe('redis store arguments, checked before any command', () => {
  it('a URL, a node-redis client or {} is refused with the fix; a URL is never quoted', () => {
    const url = 'redis://:s3cret-pw@cache.example:6379';
    expect(() => createRedisStore(url as never)).toThrow(
      new ConfigurationError(
        "createRedisStore takes an ioredis client, not a URL: createRedisStore(new Redis(process.env.REDIS_URL)), with import { Redis } from 'ioredis'",
      ),
    );
    const nodeRedis = { isOpen: false, sendCommand: () => {}, get: () => {}, set: () => {} };
    expect(() => createRedisStore(nodeRedis as never)).toThrow(/not a node-redis client/);
    expect(() => createRedisInvalidation({} as never)).toThrow(/createRedisInvalidation takes an ioredis client/);
  });

  it('options: unknown keys and a deadline in seconds', () => {
    const client = new Redis({ lazyConnect: true });
    try {
      expect(() => createRedisStore(client, { prefix: 'x:' } as never)).toThrow(
        /createRedisStore got an unknown option "prefix"; did you mean "keyPrefix"\?/,
      );
      expect(() => createRedisStore(client, { timeoutMs: 2 })).toThrow(
        new ConfigurationError('timeoutMs is in milliseconds; 2 looks like seconds (use 2000)'),
      );
      expect(() => createRedisInvalidation(client, { chanel: 'x' } as never)).toThrow(/did you mean "channel"\?/);
    } finally {
      client.disconnect();
    }
  });
});
