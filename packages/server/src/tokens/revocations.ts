/**
 * Access-token revocation (R4) that reaches every process verifying tokens, not just the one that
 * revoked them: by token id (`jti`) or by a per-user "not before" (a password change, a disabled
 * account, "log out everywhere").
 *
 * How: the revocations form a shared, append-only log (a SQLite file: `latchkey/tokens/sqlite`; a
 * PostgreSQL table: `latchkey/tokens/postgres`; a Redis stream: `latchkey/tokens/redis`; or your own
 * `RevocationLog`). Each process keeps the log's last hour in memory and reads what was appended
 * since its cursor every `pollInterval` (500 ms; at once on a Redis message or a PostgreSQL
 * NOTIFY). `check` is then a map look-up, synchronous and free of I/O.
 * Why not ask the store per token: that puts the store's latency and availability on every API
 * call, while the log costs one small read per interval per process whatever the traffic, and
 * stays small (an entry is useless once the tokens it revokes have expired: ≤ 1 h + skew).
 *
 * Fail closed: when the log could not be read for `maxStaleness` (5 s), `check` answers
 * `'unavailable'` and verifiers refuse every token, as a session store that is down logs nobody in.
 * So a revocation reaches every verifier within `pollInterval` plus one read, or the verifier stops
 * accepting tokens within `maxStaleness`.
 *
 * Not-before and one-second `iat`: a JWT's `iat` counts whole seconds, but a revocation must refuse
 * every token minted before it and none minted after, even in the same second. The not-before is
 * kept in milliseconds and a token is revoked when `iat · 1000 < notBefore`; the issuer
 * (`createAccessTokens`) never mints a token that rule would refuse: in the second of a revocation
 * it sets `iat` to the next whole second (at most 1 s ahead; `nbf` and `exp` keep the real time).
 * Chosen over a millisecond claim because every JWT library reads `iat` and none reads ours.
 * Clocks: the not-before is the revoking process's clock and `iat` the issuer's; keep them in sync
 * (NTP), as `exp` already requires.
 */
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { withDeadline } from '../lib/deadline.js';
import { checkFunction, checkNumber, checkOptions, describe } from '../lib/options.js';

/** What `check` answers. `'unavailable'`: the list is too old to trust; refuse the token. */
export type RevocationStatus = 'valid' | 'revoked' | 'unavailable';

/** The revocation list as issuers and verifiers use it; every backend has this shape. */
export interface AccessTokenRevocations {
  /** Revokes one token everywhere, by its jti. */
  revokeToken(jti: string): Promise<void>;
  /** Revokes every token of the subject issued until now; resolves to that not-before (ms). */
  revokeSubject(subject: string): Promise<number>;
  /** Answered from memory. `issuedAt` in ms (the token's `iat` · 1000). */
  check(token: { subject: string; jti: string; issuedAt: number }): RevocationStatus;
  /** The subject's not-before (ms) as this process knows it, for the issuer. */
  notBefore(subject: string): number | undefined;
  /** False while `check` answers `'unavailable'` (a service can answer 503 rather than 401). */
  available(): boolean;
  /** Resolves after the first read of the log; rejects if none succeeds within `maxStaleness`. */
  ready(): Promise<void>;
  /** Stops polling and watching. */
  close(): Promise<void>;
}

/** One revocation. `at` (ms): for a subject, its not-before; for a token, when it was revoked. */
export interface RevocationEntry {
  kind: 'token' | 'subject';
  key: string;
  at: number;
}

/**
 * Where revocations are shared: an append-only log read in order with a cursor. A cursor must
 * never skip an entry appended later (an autoincrement that is never reused, a stream id).
 */
export interface RevocationLog {
  append(entry: RevocationEntry): Promise<void>;
  /** Up to `limit` entries after `cursor` (`null`: from the start), oldest first, and the cursor to pass next. */
  read(cursor: string | null, limit: number): Promise<{ entries: RevocationEntry[]; cursor: string | null }>;
  /** Drops entries whose `at` is before `before` (ms); resolves to how many (approximate is fine). */
  prune(before: number): Promise<number>;
  /** Optional push: calls `onAppend` soon after any process appends; returns the way to stop. The poll stays the guarantee. */
  watch?(onAppend: () => void): () => Promise<void>;
}

/** Options of `createSharedRevocations` (and of the SQLite, PostgreSQL and Redis backends, beside their own). Times in ms. */
export interface SharedRevocationsOptions {
  /** Milliseconds between reads of the log. Default 500; 10 to 1000. */
  pollInterval?: number;
  /** Milliseconds without a successful read after which every token is refused. Default 5000; 2 × pollInterval to 60,000. */
  maxStaleness?: number;
  /** Told when a read or a prune fails (to log it); revocations never carry token text. */
  onError?: (error: unknown) => void;
  now?: () => number;
}

const REVOCATIONS_METHODS = ['revokeToken', 'revokeSubject', 'check', 'notBefore', 'available', 'ready', 'close'];
const LOG_METHODS = ['append', 'read', 'prune'];

/** The names of `methods` that `value` lacks (all of them when it is not an object). */
function missingMethods(value: unknown, methods: readonly string[]): string[] {
  if (typeof value !== 'object' || value === null) return [...methods];
  return methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
}

/**
 * The `revocations` option of the issuer and the verifiers, checked at construction: a list that
 * lacks `check` would fail at the first token, and one that lacks `notBefore` would let the issuer
 * mint tokens its own revocation refuses.
 */
export function checkRevocations(value: unknown): AccessTokenRevocations | undefined {
  if (value === undefined) return undefined;
  const missing = missingMethods(value, REVOCATIONS_METHODS);
  if (missing.length > 0)
    throw new ConfigurationError(
      `revocations must be an AccessTokenRevocations (${describe(value)} lacks ${missing.join(', ')}): ` +
        'pass createMemoryRevocations(), createSqliteRevocations(db), createPostgresRevocations(pool) or createRedisRevocations(redis)',
    );
  return value as AccessTokenRevocations;
}

/** Which options of a shared backend belong to `createSharedRevocations`. */
export const SHARED_REVOCATIONS_OPTIONS = ['pollInterval', 'maxStaleness', 'onError', 'now'] as const;

/** The options of `createSharedRevocations` out of a backend's combined options. */
export function sharedOptions(options: SharedRevocationsOptions): SharedRevocationsOptions {
  const { pollInterval, maxStaleness, onError, now } = options;
  return { pollInterval, maxStaleness, onError, now };
}

/** An entry outlives the tokens it can revoke: the longest lifetime (1 h) plus the largest skew (60 s). */
export const REVOCATION_RETENTION = (3600 + 60) * 1000;
const PAGE = 1000;
const PRUNE_EVERY = 60_000;

/** The in-memory half every backend shares: revoked jtis and per-subject not-befores, pruned by age. */
function createRevocationSet(now: () => number) {
  const tokens = new Map<string, number>();
  const subjects = new Map<string, number>();
  let prunedAt = now();
  return {
    apply(entry: RevocationEntry) {
      if (entry.at < now() - REVOCATION_RETENTION) return;
      const map = entry.kind === 'token' ? tokens : subjects;
      // Entries may arrive twice (applied on write, then read back) or out of order: keep the latest.
      if ((map.get(entry.key) ?? Number.NEGATIVE_INFINITY) < entry.at) map.set(entry.key, entry.at);
    },
    revoked(token: { subject: string; jti: string; issuedAt: number }): boolean {
      if (tokens.has(token.jti)) return true;
      const notBefore = subjects.get(token.subject);
      return notBefore !== undefined && token.issuedAt < notBefore;
    },
    notBefore: (subject: string) => subjects.get(subject),
    prune() {
      const t = now();
      if (t - prunedAt < PRUNE_EVERY) return;
      prunedAt = t;
      const horizon = t - REVOCATION_RETENTION;
      for (const map of [tokens, subjects]) for (const [key, at] of map) if (at < horizon) map.delete(key);
    },
  };
}

function entry(kind: RevocationEntry['kind'], key: string, at: number): RevocationEntry {
  if (typeof key !== 'string' || key.length === 0 || key.length > 512)
    throw new InvalidArgumentError(
      `a revoked ${kind === 'token' ? 'jti' : 'subject'} is a string of 1 to 512 characters`,
    );
  return { kind, key, at };
}

/**
 * Revocations kept in this process's memory: one process that both issues and verifies (tests,
 * a single server). Another process never sees them: use a shared backend for that.
 * @example
 * const revocations = createMemoryRevocations();
 * const access = createAccessTokens({ issuer, audience, keys, revocations });
 * await revocations.revokeSubject(user.id); // every token of the user issued until now
 */
export function createMemoryRevocations(now: () => number = Date.now): AccessTokenRevocations {
  const set = createRevocationSet(now);
  return {
    async revokeToken(jti) {
      set.prune();
      set.apply(entry('token', jti, now()));
    },
    async revokeSubject(subject) {
      set.prune();
      const at = now();
      set.apply(entry('subject', subject, at));
      return at;
    },
    check: (token) => (set.revoked(token) ? 'revoked' : 'valid'),
    notBefore: (subject) => set.notBefore(subject),
    available: () => true,
    ready: async () => {},
    close: async () => {},
  };
}

/**
 * Revocations shared through a log, for issuers and verifiers in several processes (see the top
 * of this file). Backends wrap it: `createSqliteRevocations`, `createPostgresRevocations`,
 * `createRedisRevocations`.
 * @example
 * const revocations = createSharedRevocations(myLog, { onError: (e) => log.warn({ err: e }, 'revocations') });
 * await revocations.ready();
 * const verifier = createAccessTokenVerifier({ jwksUrl, issuer, audience, revocations });
 */
export function createSharedRevocations(
  log: RevocationLog,
  options: SharedRevocationsOptions = {},
): AccessTokenRevocations {
  const missing = missingMethods(log, LOG_METHODS);
  if (missing.length > 0)
    throw new ConfigurationError(
      `createSharedRevocations needs a RevocationLog (${describe(log)} lacks ${missing.join(', ')}): ` +
        'pass createSqliteRevocationLog(db), createPostgresRevocationLog(pool), createRedisRevocationLog(redis), or your own',
    );
  const o = checkOptions('createSharedRevocations', options, SHARED_REVOCATIONS_OPTIONS);
  const pollInterval = checkNumber('pollInterval', o.pollInterval, {
    default: 500,
    min: 10,
    max: 1000,
    integer: true,
    unit: 'milliseconds',
  });
  // At least two intervals: one late read must not make the list look stale.
  const maxStaleness = checkNumber('maxStaleness', o.maxStaleness, {
    default: 5000,
    min: 2 * pollInterval,
    max: 60_000,
    integer: true,
    unit: 'milliseconds',
  });
  const now = checkFunction('now', o.now, Date.now);
  const onError = checkFunction<(error: unknown) => void>('onError', o.onError, () => {});
  const set = createRevocationSet(now);
  let cursor: string | null = null;
  // Freshness on the monotonic clock: a wall-clock step must not make stale data look fresh.
  let freshAt = Number.NEGATIVE_INFINITY;
  let syncing: Promise<void> | null = null;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let prunedLogAt = Number.NEGATIVE_INFINITY;
  let markReady: () => void = () => {};
  const firstRead = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  const read = async () => {
    // What the log held when the read began is what we know once it ends: date freshness from then.
    const started = performance.now();
    try {
      for (;;) {
        // A read that hangs must not stop the loop: it fails, and the staleness bound takes over.
        const page = await withDeadline(log.read(cursor, PAGE), Math.max(1000, pollInterval), 'revocation log read');
        for (const e of page.entries) set.apply(e);
        cursor = page.cursor;
        if (page.entries.length < PAGE) break;
      }
      freshAt = started;
      markReady();
      set.prune();
    } catch (error) {
      onError(error);
    }
  };
  /** One read at a time; a request during a read runs one more after it (it may have missed the entry). */
  const sync = (): Promise<void> => {
    if (syncing) {
      again = true;
      return syncing;
    }
    syncing = read().finally(() => {
      syncing = null;
      if (again && !closed) {
        again = false;
        void sync();
      }
    });
    return syncing;
  };
  const loop = async () => {
    await sync();
    if (!closed) timer = setTimeout(loop, pollInterval).unref();
  };
  void loop();
  const unwatch = log.watch?.(() => void sync());

  const append = async (e: RevocationEntry) => {
    // Applied here first: this process (the issuer, most often) refuses the tokens at once, and
    // mints none that the revocation would refuse.
    set.apply(e);
    await log.append(e);
    if (now() - prunedLogAt > PRUNE_EVERY) {
      prunedLogAt = now();
      log.prune(now() - REVOCATION_RETENTION).catch(onError);
    }
  };

  return {
    async revokeToken(jti) {
      await append(entry('token', jti, now()));
    },
    async revokeSubject(subject) {
      const e = entry('subject', subject, now());
      await append(e);
      return e.at;
    },
    check(token) {
      if (performance.now() - freshAt > maxStaleness) return 'unavailable';
      return set.revoked(token) ? 'revoked' : 'valid';
    },
    notBefore: (subject) => set.notBefore(subject),
    available: () => performance.now() - freshAt <= maxStaleness,
    ready: () => withDeadline(firstRead, maxStaleness, 'the first read of the revocation log'),
    async close() {
      closed = true;
      clearTimeout(timer);
      await unwatch?.();
    },
  };
}
