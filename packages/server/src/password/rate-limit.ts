/**
 * A rate limit for actions other than logging in: registration, a password-reset mail, an invite.
 * Two rules, each optional: per client address (IPv6 per /64, like the login throttle) and global
 * (every client together, a ceiling for a botnet that has many addresses). Each action is counted
 * atomically before it runs, in memory or in Redis (shared by every instance). A refused action
 * gives back the points it took, so it costs the client nothing and cannot push others over the
 * global rule. A failing Redis is `StoreUnavailableError`, never a skipped limit.
 */
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import {
  checkLimiterBackend,
  createLimiter,
  giveBack,
  MAX_SECONDS,
  positiveInteger,
  retrySeconds,
  type Taken,
  take,
} from '../lib/limiter.js';
import { checkOptions, checkString } from '../lib/options.js';
import { clientKey } from './throttle.js';

/** At most `points` actions per `duration` seconds. */
export interface RateLimitRule {
  points: number;
  duration: number;
}

/** Options of `createRateLimit`. `name` and at least one of `perClient` and `global` are required. */
export interface RateLimitOptions {
  /** An ioredis client: counts shared by every instance. Default: in this process's memory. */
  redis?: unknown;
  /** A pg Pool: counts shared by every instance, in the table `latchkey_limits`. Not with `redis`. */
  postgres?: unknown;
  /** Key prefix in Redis or PostgreSQL. Default `latchkey:rate`. */
  prefix?: string;
  /** Required. Names the action in the keys: letters, digits, `_`, `-` and `.` (no `:`, so no two actions share keys). */
  name: string;
  /** At most `points` actions per `duration` seconds from one client address (IPv6 per /64). Default none. */
  perClient?: RateLimitRule;
  /**
   * At most `points` actions per `duration` seconds from every client together. Default none.
   * Checked after `perClient`: a client refused by its own rule does not count here.
   */
  global?: RateLimitRule;
}

/** `retryAfter` is whole seconds (at least 1), for the Retry-After header. */
export type RateLimitDecision = { allowed: true } | { allowed: false; retryAfter: number; scope: 'client' | 'global' };

/**
 * A rate limit for one action, from `createRateLimit`. A refused take gives its points back. With
 * Redis down, `take` rejects with `StoreUnavailableError`: the limit is never skipped.
 *
 * @example
 * const decision = await signups.take(req.ip);
 * if (!decision.allowed) return sendError(res, 'TOO_MANY_ATTEMPTS', { 'retry-after': String(decision.retryAfter) });
 */
export interface RateLimit {
  /** Counts one action by `client` (its address) if the rules allow it. */
  take(client: string): Promise<RateLimitDecision>;
}

const WHAT = 'rate limit';

function rule(name: string, value: RateLimitRule | undefined): RateLimitRule | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null)
    throw new ConfigurationError(`${name} must be { points, duration }, such as { points: 10, duration: 3600 }`);
  const r = checkOptions(`createRateLimit: ${name}`, value, ['points', 'duration'], {
    max: 'points',
    limit: 'points',
    window: 'duration',
    windowMs: 'duration',
  });
  return {
    points: positiveInteger(`${name}.points`, r.points, Number.NaN),
    duration: positiveInteger(`${name}.duration`, r.duration, Number.NaN, MAX_SECONDS, 'seconds'),
  };
}

/**
 * @example
 * const signups = createRateLimit({ name: 'register', perClient: { points: 10, duration: 3600 }, global: { points: 500, duration: 3600 } });
 * const decision = await signups.take(request.ip);
 * if (!decision.allowed) return reply.code(429).header('retry-after', decision.retryAfter) …
 */
export function createRateLimit(rateOptions: RateLimitOptions): RateLimit {
  if (rateOptions === undefined)
    throw new ConfigurationError(
      "createRateLimit needs options: createRateLimit({ name: 'register', perClient: { points: 10, duration: 3600 } })",
    );
  const options = checkOptions('createRateLimit', rateOptions, [
    'redis',
    'postgres',
    'prefix',
    'name',
    'perClient',
    'global',
  ]);
  // A ':' in the name could make one action's keys another's.
  const name = checkString('name', options.name, {
    pattern: /^[\w.-]+$/,
    expected: "letters, digits, _, - or . (the action's name, such as 'register')",
    maxLength: 100,
  });
  const perClient = rule('perClient', options.perClient);
  const global = rule('global', options.global);
  if (!perClient && !global)
    throw new ConfigurationError(
      'a rate limit needs perClient, global or both, such as perClient: { points: 10, duration: 3600 }',
    );
  const prefix = checkString('prefix', options.prefix, { default: 'latchkey:rate', maxLength: 200 });
  checkLimiterBackend('createRateLimit', options);
  const limiter = (scope: string, r: RateLimitRule | undefined) =>
    r && createLimiter(options, `${prefix}:${name}:${scope}`, r.points, r.duration);
  const byClient = limiter('client', perClient);
  const byAll = limiter('global', global);

  return {
    async take(client) {
      if (typeof client !== 'string' || client === '') throw new InvalidArgumentError('take needs a client address');
      const taken: Taken[] = [];
      const refuse = async (scope: 'client' | 'global', ms: number) => {
        await Promise.all(taken.map((point) => giveBack(point, WHAT)));
        return { allowed: false, retryAfter: retrySeconds(ms), scope } as const;
      };
      // The client's own rule first: a client over its limit never touches the global count, so
      // one abuser cannot make the global rule refuse everyone else.
      if (byClient) {
        const own = await take(byClient, clientKey(client), WHAT);
        taken.push(own.taken);
        if (!own.allowed) return refuse('client', own.res.msBeforeNext);
      }
      if (byAll) {
        const all = await take(byAll, 'all', WHAT);
        taken.push(all.taken);
        if (!all.allowed) return refuse('global', all.res.msBeforeNext);
      }
      return { allowed: true };
    },
  };
}
