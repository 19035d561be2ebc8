/**
 * `latchkey/tokens/redis`: the access-token revocation log in Redis (ioredis, a single server or a
 * Cluster), for issuers and verifiers in many processes or machines. The log is one stream (one
 * key, so one Cluster slot), trimmed to the last hour as it grows; every append is also announced
 * on a pub/sub channel, so verifiers read it at once instead of at their next poll. The poll stays
 * the guarantee: a message lost while a subscriber reconnects delays an entry by one interval.
 * Needs Redis 6.2 or later (XADD MINID, exclusive XRANGE).
 */
import type { Cluster, Redis } from 'ioredis';
import { ConfigurationError } from '../errors.js';
import { guarded } from '../lib/deadline.js';
import { checkNumber, checkOptions, checkString, describe } from '../lib/options.js';
import {
  type AccessTokenRevocations,
  createSharedRevocations,
  REVOCATION_RETENTION,
  type RevocationEntry,
  type RevocationLog,
  SHARED_REVOCATIONS_OPTIONS,
  type SharedRevocationsOptions,
  sharedOptions,
} from './revocations.js';

/** Options of `createRedisRevocationLog` and `createRedisRevocations`. */
export interface RedisRevocationLogOptions {
  /** The stream's key. Default `latchkey:access-revocations`. */
  key?: string;
  /** The channel announcing appends. Default `<key>:appended`. */
  channel?: string;
  /** Milliseconds after which a command fails with StoreUnavailableError. Default 2000. */
  timeoutMs?: number;
}

const LOG_OPTIONS = ['key', 'channel', 'timeoutMs'];

// Append and trim in one step, on the server's clock: stream ids are its milliseconds, so entries
// older than the retention by that clock go (approximately: whole nodes, `~`), whatever ours says.
// KEYS: stream. ARGV: kind, key, at, retention (ms).
const APPEND = `local id = redis.call('XADD', KEYS[1], '*', 'kind', ARGV[1], 'key', ARGV[2], 'at', ARGV[3])
local ms = tonumber(string.match(id, '^(%d+)'))
redis.call('XTRIM', KEYS[1], 'MINID', '~', math.max(0, ms - tonumber(ARGV[4])))
return id`;

/**
 * @example
 * const log = createRedisRevocationLog(new Redis(process.env.REDIS_URL));
 */
export function createRedisRevocationLog(
  client: Redis | Cluster,
  options: RedisRevocationLogOptions = {},
): RevocationLog {
  const methods = ['eval', 'xrange', 'xtrim', 'publish', 'duplicate'] as const;
  if (typeof client !== 'object' || client === null || methods.some((m) => typeof client[m] !== 'function'))
    throw new ConfigurationError(
      `createRedisRevocationLog takes an ioredis client (got ${describe(client)}): createRedisRevocationLog(new Redis(url))`,
    );
  const o = checkOptions('createRedisRevocationLog', options, LOG_OPTIONS);
  const key = checkString('key', o.key, { default: 'latchkey:access-revocations' });
  const channel = checkString('channel', o.channel, { default: `${key}:appended` });
  const ms = checkNumber('timeoutMs', o.timeoutMs, {
    default: 2000,
    min: 1,
    max: 60_000,
    integer: true,
    unit: 'milliseconds',
  });
  const run = <T>(what: string, work: () => Promise<T>) => guarded(work, ms, `redis revocation log ${what}`);
  return {
    async append(e) {
      await run('append', () => client.eval(APPEND, 1, key, e.kind, e.key, String(e.at), String(REVOCATION_RETENTION)));
      // The announcement only speeds readers up: its failure does not fail the revocation.
      await run('publish', () => client.publish(channel, '1')).catch(() => undefined);
    },
    async read(cursor, limit) {
      const rows = await run('read', () =>
        client.xrange(key, cursor === null ? '-' : `(${cursor}`, '+', 'COUNT', limit),
      );
      const entries: RevocationEntry[] = [];
      for (const [, fields] of rows) {
        const field = (name: string) => fields[fields.indexOf(name) + 1];
        const kind = field('kind');
        const at = Number(field('at'));
        const value = field('key');
        if ((kind === 'token' || kind === 'subject') && value && Number.isFinite(at))
          entries.push({ kind, key: value, at });
      }
      return { entries, cursor: rows.at(-1)?.[0] ?? cursor };
    },
    // Stream ids stand for `at` here (both are milliseconds, of the server's and our clock).
    prune: (before) => run('prune', () => client.xtrim(key, 'MINID', String(Math.max(0, Math.floor(before))))),
    watch(onAppend) {
      // Both Redis and Cluster have duplicate(); their signatures differ, the result is the same kind.
      const subscriber: Redis | Cluster = 'nodes' in client ? client.duplicate() : client.duplicate();
      subscriber.on('error', () => {}); // a lost connection shows as 'ready' again after the reconnect
      subscriber.on('message', (from: string) => {
        if (from === channel) onAppend();
      });
      subscriber.on('ready', () => {
        // On connect and after a reconnect: subscribe, then read at once what was announced meanwhile.
        subscriber.subscribe(channel).then(onAppend, () => undefined);
      });
      return async () => {
        subscriber.removeAllListeners('ready');
        subscriber.disconnect();
      };
    },
  };
}

/**
 * Access-token revocations shared through Redis: refused in every verifying process within one
 * read of a pub/sub message (a few ms), or `pollInterval` (500 ms) if the message is lost; fail
 * closed after `maxStaleness` without a successful read.
 * @example
 * const revocations = createRedisRevocations(new Redis(process.env.REDIS_URL));
 * const verifier = createAccessTokenVerifier({ jwksUrl, issuer, audience, revocations });
 */
export function createRedisRevocations(
  client: Redis | Cluster,
  options: RedisRevocationLogOptions & SharedRevocationsOptions = {},
): AccessTokenRevocations {
  const o = checkOptions('createRedisRevocations', options, [...LOG_OPTIONS, ...SHARED_REVOCATIONS_OPTIONS]);
  const { key, channel, timeoutMs } = o;
  return createSharedRevocations(createRedisRevocationLog(client, { key, channel, timeoutMs }), sharedOptions(o));
}
