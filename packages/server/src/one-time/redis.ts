/**
 * `latchkey/one-time/redis`: one-time tokens in Redis (ioredis, a single server or a Cluster; Redis
 * 7 or later). Key layout, made for Cluster:
 *
 *   <p>one-time:user:{<userId>}    → hash: <purpose>:h → token hash, <purpose>:c → createdAt,
 *                                     <purpose>:e → expiresAt, <purpose>:d → data (JSON);
 *                                     native TTL at the latest expiresAt it holds
 *   <p>one-time:token:{<hash>}     → the user id; native TTL at the token's expiresAt
 *
 * A token is live only while its user's hash names it for its purpose, so every decision is one Lua
 * script on one key, one slot: issuing overwrites the purpose's fields (the older token is dead at
 * once), and using a token checks hash, purpose and expiry and deletes the fields in the same step
 * (of concurrent uses exactly one gets them). The `token` pointer lets a look-up by hash find the
 * user; a pointer left behind by a newer token or a revocation is harmless (the hash no longer names
 * it) and expires by itself. Lua never decodes the data: it comes back byte for byte.
 */
import type { Cluster, Redis } from 'ioredis';
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkRedisClient } from '../lib/drivers.js';
import { checkOptions, checkString } from '../lib/options.js';
import type { OneTimeTokenData, OneTimeTokenStore } from './store.js';

/** Options of `createRedisOneTimeStore`. */
export interface RedisOneTimeStoreOptions {
  /** Prefix of every key. Default `latchkey:`. */
  keyPrefix?: string;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
}

// KEYS: the user's hash. ARGV: purpose, hash, createdAt, expiresAt, data. Returns the hash it replaced.
const INSERT = `local f = ARGV[1]
local old = redis.call('HGET', KEYS[1], f .. ':h')
redis.call('HSET', KEYS[1], f .. ':h', ARGV[2], f .. ':c', ARGV[3], f .. ':e', ARGV[4], f .. ':d', ARGV[5])
if redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIREAT', KEYS[1], ARGV[4]) end
return old`;

// KEYS: the user's hash. ARGV: purpose, hash, now, '1' to delete. Returns createdAt, expiresAt, data; or nil.
const TAKE = `local f = ARGV[1]
local r = redis.call('HMGET', KEYS[1], f .. ':h', f .. ':c', f .. ':e', f .. ':d')
if r[1] ~= ARGV[2] or tonumber(r[3]) <= tonumber(ARGV[3]) then return nil end
if ARGV[4] == '1' then redis.call('HDEL', KEYS[1], f .. ':h', f .. ':c', f .. ':e', f .. ':d') end
return { r[2], r[3], r[4] }`;

// KEYS: the user's hash. ARGV: '1' and a purpose, or '0' for every purpose. Returns the hashes deleted.
const DELETE = `local gone = {}
local function drop(f)
  local h = redis.call('HGET', KEYS[1], f .. ':h')
  if h then
    redis.call('HDEL', KEYS[1], f .. ':h', f .. ':c', f .. ':e', f .. ':d')
    table.insert(gone, h)
  end
end
if ARGV[1] == '1' then drop(ARGV[2]) else
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(field, -2) == ':h' then drop(string.sub(field, 1, -3)) end
  end
end
return gone`;

// KEYS: the user's hash. ARGV: now. Returns the hashes of the expired tokens it deleted.
const EXPIRE = `local gone = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local field = all[i]
  if string.sub(field, -2) == ':e' and tonumber(all[i + 1]) <= tonumber(ARGV[1]) then
    local f = string.sub(field, 1, -3)
    table.insert(gone, redis.call('HGET', KEYS[1], f .. ':h'))
    redis.call('HDEL', KEYS[1], f .. ':h', f .. ':c', f .. ':e', f .. ':d')
  end
end
return gone`;

/** A SCAN pattern that matches `text` literally. */
const literal = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * A one-time token store in Redis (ioredis `Redis` or `Cluster`, Redis 7 or later).
 *
 * @example
 * import { Redis } from 'ioredis';
 * const oneTime = createOneTimeTokens({ store: createRedisOneTimeStore(new Redis(process.env.REDIS_URL)) });
 */
export function createRedisOneTimeStore(
  client: Redis | Cluster,
  options?: RedisOneTimeStoreOptions,
): OneTimeTokenStore {
  checkRedisClient('createRedisOneTimeStore', client, 'createRedisOneTimeStore(new Redis(process.env.REDIS_URL))');
  const o = checkOptions('createRedisOneTimeStore', options, ['keyPrefix', 'timeoutMs']);
  const p = checkString('keyPrefix', o.keyPrefix, { default: 'latchkey:', minLength: 0, maxLength: 100 });
  const ms = checkDeadline(o.timeoutMs);
  const userKey = (userId: string) => `${p}one-time:user:{${userId}}`;
  const pointer = (hash: string) => `${p}one-time:token:{${hash}}`;
  const run = <T>(what: string, work: () => Promise<T>, deadline = ms) =>
    guarded(work, deadline, `redis one-time token store ${what}`);
  const script = (lua: string, key: string, args: (string | number)[]) =>
    client.eval(lua, 1, key, ...args) as Promise<unknown>;
  /** Best effort: a pointer left behind is harmless (the user's hash no longer names it) and expires. */
  const dropPointers = async (hashes: string[]) => {
    if (hashes.length > 0) await Promise.all(hashes.map((hash) => client.del(pointer(hash))));
  };

  const find = async (hash: string, purpose: string, now: number, take: boolean) => {
    const userId = await client.get(pointer(hash));
    if (userId === null) return null;
    const found = (await script(TAKE, userKey(userId), [purpose, hash, now, take ? '1' : '0'])) as
      | [string, string, string]
      | null;
    if (found === null) return null;
    if (take) await dropPointers([hash]);
    const [createdAt, expiresAt, data] = found;
    return {
      tokenHash: hash,
      userId,
      purpose,
      data: JSON.parse(data) as OneTimeTokenData,
      createdAt: Number(createdAt),
      expiresAt: Number(expiresAt),
    };
  };

  return {
    insert: (r) =>
      run('insert', async () => {
        // The pointer first: a token is usable only once the script has named it in the user's hash.
        await client.set(pointer(r.tokenHash), r.userId, 'PXAT', r.expiresAt);
        const args = [r.purpose, r.tokenHash, r.createdAt, r.expiresAt, JSON.stringify(r.data)];
        const replaced = (await script(INSERT, userKey(r.userId), args)) as string | null;
        if (replaced !== null && replaced !== r.tokenHash) await dropPointers([replaced]);
      }),
    take: (hash, purpose, now) => run('take', () => find(hash, purpose, now, true)),
    get: (hash, purpose, now) => run('get', () => find(hash, purpose, now, false)),
    deleteUser: (userId, purpose) =>
      run('deleteUser', async () => {
        const args = purpose === undefined ? ['0'] : ['1', purpose];
        const gone = (await script(DELETE, userKey(userId), args)) as string[];
        await dropPointers(gone);
        return gone.length;
      }),
    deleteExpired: (now) =>
      run(
        'deleteExpired',
        async () => {
          // Keys expire natively in real time; this clears the tokens past `now` that a hash still holds.
          const nodes = 'nodes' in client ? client.nodes('master') : [client];
          let total = 0;
          for (const node of nodes) {
            let cursor = '0';
            do {
              const [next, keys] = await node.scan(cursor, 'MATCH', `${literal(p)}one-time:user:*`, 'COUNT', '500');
              cursor = next;
              for (const key of keys) {
                const gone = (await script(EXPIRE, key, [now])) as string[];
                await dropPointers(gone);
                total += gone.length;
              }
            } while (cursor !== '0');
          }
          return total;
        },
        0,
      ),
  };
}
