/**
 * A Redis session store (ioredis, a single server or a Cluster). Key layout, made for Cluster:
 *
 *   <p>sid:{<id>}              → the user id; native TTL at the session's expiresAt
 *   <p>user:{<userId>}:rec     → hash: session id → the fixed part of the record, as JSON
 *   <p>user:{<userId>}:seen    → hash: session id → lastSeenAt
 *   <p>user:{<userId>}:data    → hash: session id → the session data, as JSON
 *   <p>user:{<userId>}:order   → sorted set: session id by createdAt (cap, listing)
 *   <p>user:{<userId>}:expiry  → sorted set: session id by expiresAt (expired on sight)
 *   <p>user:{<userId>}:bind    → hash: session id → its device binding (latchkey/dbsc), as JSON;
 *                                no field for an unbound session
 *
 * Lua never encodes JSON: what changes (lastSeenAt, expiresAt, data, binding) has keys of its own,
 * so user data round-trips byte for byte (cjson would turn `[]` into `{}` and round numbers). The
 * one decode is setBinding's comparison, which reads a stored binding's thumbprint and provenAt
 * and writes only the JSON it was given.
 *
 * The `{…}` hash tags put all of one user's keys in one slot, so every per-user change is one Lua
 * script and atomic, revoke-all included: a session is live only while its user's hash holds it.
 * The `sid` pointer lets a look-up by id find the user; it lives in another slot, so a look-up
 * costs two round trips, and a pointer left behind by a revocation is harmless (its hash entry is
 * gone) and expires by itself. The user's keys expire natively after the last absolute limit.
 */
import type { Cluster, Redis } from 'ioredis';
import { checkDeadline, guarded } from '../lib/deadline.js';
import { checkRedisClient } from '../lib/drivers.js';
import { checkOptions, checkString } from '../lib/options.js';
import type { SessionBinding, SessionData, SessionRecord, SessionStore } from './store.js';

/** Options of `createRedisStore`. */
export interface RedisStoreOptions {
  /** Prefix of every key. Default `latchkey:`. */
  keyPrefix?: string;
  /** Milliseconds after which a call fails with StoreUnavailableError. Default 2000; 0 for none. */
  timeoutMs?: number;
}

/** The part of a record that never changes after creation. */
type Fixed = Pick<
  SessionRecord,
  'secretHash' | 'userId' | 'createdAt' | 'absoluteExpiresAt' | 'authenticatedAt' | 'userAgent' | 'ip' | 'remembered'
>;

// Every script takes the user's six keys in this order.
const REMOVE = `local function remove(id)
  local gone = redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id); redis.call('HDEL', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id); redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', KEYS[6], id)
  return gone
end
`;

// ARGV: id, fixed JSON, lastSeenAt, data JSON, createdAt, expiresAt, absoluteExpiresAt, max,
// binding JSON or '' for none.
const CREATE = `${REMOVE}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
if ARGV[9] == '' then redis.call('HDEL', KEYS[6], ARGV[1]) else redis.call('HSET', KEYS[6], ARGV[1], ARGV[9]) end
local evicted = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[5])
for _, id in ipairs(evicted) do remove(id) end
local over = redis.call('ZCARD', KEYS[4]) - tonumber(ARGV[8])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, over - 1)) do remove(id); table.insert(evicted, id) end
end
local at = tonumber(ARGV[7])
for i = 1, 6 do
  if redis.call('PEXPIRETIME', KEYS[i]) < at then redis.call('PEXPIREAT', KEYS[i], at) end
end
return evicted`;

// ARGV: id. Returns fixed JSON, lastSeenAt, data JSON, expiresAt, binding JSON (nil if none); or nil.
const GET = `local fixed = redis.call('HGET', KEYS[1], ARGV[1])
if not fixed then return nil end
return { fixed, redis.call('HGET', KEYS[2], ARGV[1]), redis.call('HGET', KEYS[3], ARGV[1]),
  redis.call('ZSCORE', KEYS[5], ARGV[1]), redis.call('HGET', KEYS[6], ARGV[1]) }`;

// ARGV: id, lastSeenAt, expiresAt.
const TOUCH = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
return 1`;

// ARGV: id, data JSON.
const SET_DATA = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1`;

// ARGV: id, next binding JSON or '' for none, then '' (expected: unbound) or the expected
// thumbprint and provenAt. The check and the write are one script: a compare-and-set.
const SET_BINDING = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local current = redis.call('HGET', KEYS[6], ARGV[1])
if ARGV[3] == '' then
  if current then return 0 end
else
  if not current then return 0 end
  local stored = cjson.decode(current)
  if stored.thumbprint ~= ARGV[4] or stored.provenAt ~= tonumber(ARGV[5]) then return 0 end
end
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[6], ARGV[1])
else
  redis.call('HSET', KEYS[6], ARGV[1], ARGV[2])
  local at = redis.call('PEXPIRETIME', KEYS[1])
  if at > 0 and redis.call('PEXPIRETIME', KEYS[6]) < at then redis.call('PEXPIREAT', KEYS[6], at) end
end
return 1`;

// ARGV: ids to delete, or '*' and an id to keep.
const DELETE = `${REMOVE}
local ids = ARGV
if ARGV[1] == '*' then
  ids = {}
  for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
    if id ~= ARGV[2] then table.insert(ids, id) end
  end
end
local gone = {}
for _, id in ipairs(ids) do if remove(id) == 1 then table.insert(gone, id) end end
return gone`;

// ARGV: now.
const EXPIRE = `${REMOVE}
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[1])
for _, id in ipairs(due) do remove(id) end
return due`;

// Returns the records of a user, oldest first, as id, fixed, lastSeenAt, data, expiresAt, binding.
const LIST = `local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  local fixed = redis.call('HGET', KEYS[1], id)
  if fixed then
    table.insert(out, id); table.insert(out, fixed); table.insert(out, redis.call('HGET', KEYS[2], id))
    table.insert(out, redis.call('HGET', KEYS[3], id)); table.insert(out, redis.call('ZSCORE', KEYS[5], id))
    table.insert(out, redis.call('HGET', KEYS[6], id))
  end
end
return out`;

type Found = [fixed: string, seen: string, data: string, expiresAt: string, binding: string | null];

const toRecord = (
  id: string,
  fixed: string,
  seen: string,
  data: string,
  expiresAt: string,
  binding: string | null,
): SessionRecord => {
  const f = JSON.parse(fixed) as Fixed;
  return {
    id,
    ...f,
    remembered: f.remembered === true, // records from before the field read false
    lastSeenAt: Number(seen),
    expiresAt: Number(expiresAt),
    data: JSON.parse(data) as SessionData,
    binding: binding === null ? null : (JSON.parse(binding) as SessionBinding), // none before dbsc
  };
};

/**
 * @example
 * import { Redis } from 'ioredis';
 * const store = createRedisStore(new Redis(process.env.REDIS_URL));
 */
export function createRedisStore(client: Redis | Cluster, options?: RedisStoreOptions): SessionStore {
  checkRedisClient('createRedisStore', client, 'createRedisStore(new Redis(process.env.REDIS_URL))');
  const o = checkOptions('createRedisStore', options, ['keyPrefix', 'timeoutMs']);
  const p = checkString('keyPrefix', o.keyPrefix, { default: 'latchkey:', minLength: 0, maxLength: 100 });
  const ms = checkDeadline(o.timeoutMs);
  const sid = (id: string) => `${p}sid:{${id}}`;
  const userKeys = (userId: string) => {
    const base = `${p}user:{${userId}}`;
    return [`${base}:rec`, `${base}:seen`, `${base}:data`, `${base}:order`, `${base}:expiry`, `${base}:bind`];
  };
  const run = <T>(what: string, work: () => Promise<T>, deadline = ms) =>
    guarded(work, deadline, `redis session store ${what}`);
  const script = (lua: string, keys: string[], args: (string | number)[]) =>
    client.eval(lua, keys.length, ...keys, ...args) as Promise<unknown>;
  /** Best effort: a pointer left behind is harmless (its user no longer holds the id) and expires. */
  const dropPointers = (ids: string[]) => Promise.all(ids.map((id) => client.del(sid(id)))).then(() => undefined);
  /** The user a session id belongs to, from its pointer. */
  const owner = (id: string) => client.get(sid(id));

  return {
    create: (r, maxPerUser) =>
      run('create', async () => {
        const fixed: Fixed = {
          secretHash: r.secretHash,
          userId: r.userId,
          createdAt: r.createdAt,
          absoluteExpiresAt: r.absoluteExpiresAt,
          authenticatedAt: r.authenticatedAt,
          userAgent: r.userAgent,
          ip: r.ip,
          remembered: r.remembered === true,
        };
        await client.set(sid(r.id), r.userId, 'PXAT', r.expiresAt);
        const args = [r.id, JSON.stringify(fixed), r.lastSeenAt, JSON.stringify(r.data), r.createdAt, r.expiresAt];
        const evicted = (await script(CREATE, userKeys(r.userId), [
          ...args,
          r.absoluteExpiresAt,
          maxPerUser,
          r.binding == null ? '' : JSON.stringify(r.binding),
        ])) as string[];
        await dropPointers(evicted);
        return evicted;
      }),
    get: (id) =>
      run('get', async () => {
        const userId = await owner(id);
        if (userId === null) return null;
        const found = (await script(GET, userKeys(userId), [id])) as Found | null;
        return found === null ? null : toRecord(id, ...found);
      }),
    touch: (id, lastSeenAt, expiresAt) =>
      run('touch', async () => {
        const userId = await owner(id);
        if (userId !== null && (await script(TOUCH, userKeys(userId), [id, lastSeenAt, expiresAt])) === 1) {
          await client.pexpireat(sid(id), expiresAt);
        }
      }),
    setData: (id, data) =>
      run('setData', async () => {
        const userId = await owner(id);
        return userId !== null && (await script(SET_DATA, userKeys(userId), [id, JSON.stringify(data)])) === 1;
      }),
    setBinding: (id, next, expected) =>
      run('setBinding', async () => {
        const userId = await owner(id);
        if (userId === null) return false;
        const args = [id, next === null ? '' : JSON.stringify(next)];
        args.push(...(expected === null ? [''] : ['1', expected.thumbprint, String(expected.provenAt)]));
        return (await script(SET_BINDING, userKeys(userId), args)) === 1;
      }),
    delete: (id) =>
      run('delete', async () => {
        const userId = await owner(id);
        if (userId === null) return false;
        const gone = (await script(DELETE, userKeys(userId), [id])) as string[];
        await client.del(sid(id));
        return gone.length > 0;
      }),
    deleteUser: (userId, exceptId) =>
      run('deleteUser', async () => {
        // One script on the user's slot: when it returns, no session of the user validates.
        const gone = (await script(DELETE, userKeys(userId), ['*', exceptId ?? ''])) as string[];
        await dropPointers(gone);
        return gone.length;
      }),
    listUser: (userId) =>
      run('listUser', async () => {
        const flat = (await script(LIST, userKeys(userId), [])) as (string | null)[];
        const records: SessionRecord[] = [];
        for (let i = 0; i < flat.length; i += 6) {
          records.push(toRecord(...(flat.slice(i, i + 6) as [string, ...Found])));
        }
        return records;
      }),
    deleteExpired: (now) =>
      run(
        'deleteExpired',
        async () => {
          // Pointers expire natively; this clears the per-user indexes of sessions past expiresAt.
          const nodes = 'nodes' in client ? client.nodes('master') : [client];
          let total = 0;
          for (const node of nodes) {
            let cursor = '0';
            do {
              const [next, keys] = await node.scan(cursor, 'MATCH', `${p}user:*:expiry`, 'COUNT', '500');
              cursor = next;
              for (const key of keys) {
                const base = key.slice(0, -':expiry'.length);
                const keysOfUser = [
                  `${base}:rec`,
                  `${base}:seen`,
                  `${base}:data`,
                  `${base}:order`,
                  key,
                  `${base}:bind`,
                ];
                const due = (await script(EXPIRE, keysOfUser, [now])) as string[];
                await dropPointers(due);
                total += due.length;
              }
            } while (cursor !== '0');
          }
          return total;
        },
        0,
      ),
  };
}
