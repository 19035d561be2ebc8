/**
 * Concurrency invariants: two server processes on one SQLite file, and many parallel logins,
 * logouts, revoke-alls ("log out all other sessions"), password changes and refresh-token
 * rotations on the same few users. Afterwards:
 *   1. no session whose revocation was acknowledged still validates (logout; revoke-others and
 *      password change for every session acknowledged before they were sent);
 *   2. no user holds more live sessions than the cap (10);
 *   3. no refresh family has two live heads.
 */
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { signUp } from '../test/accounts.js';
import { type ServerProcess, startServerProcess } from '../test/server-process.js';

export interface ConcurrencyReport {
  operations: Record<string, number>;
  total: number;
  revokedStillValid: number;
  checkedRevoked: number;
  maxSessionsPerUser: number;
  familiesWithTwoHeads: number;
  families: number;
  unexpected: string[];
}

interface Known {
  cookie: string;
  user: number;
  ackedAt: number;
}

class Mutex {
  private last = Promise.resolve();
  run<T>(work: () => Promise<T>): Promise<T> {
    const next = this.last.then(work, work);
    this.last = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}

export async function runConcurrency(options: {
  dataDir: string;
  operations: number;
  users?: number;
}): Promise<ConcurrencyReport> {
  const env = {
    LATCHKEY_DATA_DIR: options.dataDir,
    LATCHKEY_DEMO_PASSWORD: 'concurrency demo password',
    LATCHKEY_SQLITE_SHARED: '1',
    // Many clients share 127.0.0.1 here: lift the per-address limits (the review suite tests them).
    LATCHKEY_LOGIN_IN_FLIGHT: '1000',
    LATCHKEY_REGISTRATIONS_PER_CLIENT: '100000',
  };
  const a: ServerProcess = await startServerProcess(env);
  const b: ServerProcess = await startServerProcess(env);
  const servers = [a, b];
  const pick = () => servers[randomInt(2)] as ServerProcess;
  const userCount = options.users ?? 12;
  const passwords: string[] = [];
  const locks = Array.from({ length: userCount }, () => new Mutex());
  const live = new Map<string, Known>();
  const mustBeDead = new Set<string>();
  const families: { token: string; lock: Mutex }[] = [];
  const ops: Record<string, number> = {};
  const unexpected: string[] = [];
  const count = (op: string) => {
    ops[op] = (ops[op] ?? 0) + 1;
  };
  const post = (server: ServerProcess, path: string, body?: unknown, cookie?: string) =>
    fetch(`${server.base}${path}`, {
      method: 'POST',
      headers: {
        origin: server.base,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(cookie ? { cookie: `__Host-session=${cookie}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const cookieOf = (res: Response) => /__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
  const note = (what: string) => {
    if (unexpected.length < 50) unexpected.push(what);
  };

  for (let u = 0; u < userCount; u++) {
    passwords[u] = `user ${u} password v0`;
    // Signed up through the routes and the dev inbox: register, the mailed link, verify (logged in).
    const res = await signUp(a.base, {
      email: `conc-${u}@example.org`,
      password: passwords[u] as string,
      username: `conc-${u}`,
    });
    live.set(cookieOf(res), { cookie: cookieOf(res), user: u, ackedAt: performance.now() });
  }
  const mine = (u: number) => [...live.values()].filter((k) => k.user === u);

  const operations: Record<string, () => Promise<void>> = {
    login: async () => {
      const u = randomInt(userCount);
      await locks[u]?.run(async () => {
        const res = await post(pick(), '/api/auth/login', { username: `conc-${u}`, password: passwords[u] });
        if (res.status !== 200) return note(`login ${res.status}`);
        live.set(cookieOf(res), { cookie: cookieOf(res), user: u, ackedAt: performance.now() });
      });
      count('login');
    },
    logout: async () => {
      const all = [...live.values()];
      if (all.length === 0) return;
      const k = all[randomInt(all.length)];
      if (!k) return;
      live.delete(k.cookie);
      const res = await post(pick(), '/api/auth/logout', undefined, k.cookie);
      if (res.status === 200) mustBeDead.add(k.cookie);
      count('logout');
    },
    revokeOthers: async () => {
      const u = randomInt(userCount);
      const current = mine(u).at(-1);
      if (!current) return;
      const sentAt = performance.now();
      const res = await post(pick(), '/api/sessions/revoke-others', undefined, current.cookie);
      if (res.status === 200)
        for (const k of mine(u))
          if (k.cookie !== current.cookie && k.ackedAt < sentAt) {
            live.delete(k.cookie);
            mustBeDead.add(k.cookie);
          }
      count('revoke-others');
    },
    passwordChange: async () => {
      const u = randomInt(userCount);
      await locks[u]?.run(async () => {
        const current = mine(u).at(-1);
        if (!current) return;
        const next = `${(passwords[u] as string).replace(/v\d+$/, '')}v${randomInt(1e9)}`;
        const sentAt = performance.now();
        const res = await post(
          pick(),
          '/api/account/password',
          { currentPassword: passwords[u], newPassword: next },
          current.cookie,
        );
        if (res.status !== 200) {
          // Another worker may have ended this very session (logout, revoke-others): that is a 401
          // SESSION_REQUIRED and expected. Anything else is not.
          const code = ((await res.json()) as { error?: { code?: string } }).error?.code;
          if (code !== 'SESSION_REQUIRED') note(`password change ${res.status} ${code}`);
          return;
        }
        passwords[u] = next;
        for (const k of mine(u))
          if (k.ackedAt < sentAt) {
            live.delete(k.cookie);
            mustBeDead.add(k.cookie); // the others are revoked, and this one was rotated
          }
        live.set(cookieOf(res), { cookie: cookieOf(res), user: u, ackedAt: performance.now() });
      });
      count('password-change');
    },
    refresh: async () => {
      if (families.length < userCount && randomInt(4) === 0) {
        const u = randomInt(userCount);
        await locks[u]?.run(async () => {
          const res = await fetch(`${pick().base}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ grant_type: 'password', username: `conc-${u}`, password: passwords[u] }),
          });
          if (res.status === 200)
            families.push({
              token: ((await res.json()) as { refresh_token: string }).refresh_token,
              lock: new Mutex(),
            });
          else note(`password grant ${res.status}`);
        });
        count('token');
        return;
      }
      if (families.length === 0) return;
      const family = families[randomInt(families.length)];
      if (!family) return;
      await family.lock.run(async () => {
        const grant = (server: ServerProcess) =>
          fetch(`${server.base}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: family.token }),
          });
        // Half the time, the same token twice at once on both servers: both inside the grace window.
        const answers = randomInt(2) === 0 ? await Promise.all([grant(a), grant(b)]) : [await grant(pick())];
        const tokens = new Set<string>();
        for (const res of answers) {
          if (res.status === 200) tokens.add(((await res.json()) as { refresh_token: string }).refresh_token);
          else if (res.status !== 400) note(`refresh ${res.status}`); // 400: the family was revoked by a password change
        }
        if (tokens.size > 1) note('two successors for one token');
        const [next] = tokens;
        if (next) family.token = next;
        count('refresh');
      });
    },
  };
  const weights: [string, number][] = [
    ['login', 14],
    ['logout', 18],
    ['revokeOthers', 14],
    ['passwordChange', 4],
    ['refresh', 50],
  ];
  const choose = () => {
    let r = randomInt(100);
    for (const [name, w] of weights) {
      if (r < w) return operations[name] as () => Promise<void>;
      r -= w;
    }
    return operations.refresh as () => Promise<void>;
  };
  const done = () => Object.values(ops).reduce((s, n) => s + n, 0);
  const worker = async () => {
    while (done() < options.operations) {
      try {
        await choose()();
      } catch (error) {
        note(`error ${String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));

  // Invariant 1, through both servers: nothing revoked still opens a door.
  let revokedStillValid = 0;
  for (const cookie of mustBeDead) {
    const res = await fetch(`${pick().base}/api/me`, { headers: { cookie: `__Host-session=${cookie}` } });
    if (res.status !== 401) revokedStillValid++;
  }
  await a.kill();
  await b.kill();
  // Invariants 2 and 3, in the database itself.
  const db = new Database(join(options.dataDir, 'latchkey.db'), { readonly: true });
  const now = Date.now();
  const maxSessionsPerUser =
    (
      db
        .prepare(
          'SELECT max(n) AS m FROM (SELECT count(*) AS n FROM latchkey_sessions WHERE expires_at > ? GROUP BY user_id)',
        )
        .get(now) as { m: number }
    ).m ?? 0;
  const familiesWithTwoHeads = (
    db
      .prepare(
        `SELECT count(*) AS n FROM (SELECT t.family_id FROM latchkey_refresh_tokens t JOIN latchkey_refresh_families f ON f.id = t.family_id
         WHERE t.used_at IS NULL AND f.revoked_at IS NULL GROUP BY t.family_id HAVING count(*) > 1)`,
      )
      .get() as { n: number }
  ).n;
  const familyCount = (db.prepare('SELECT count(*) AS n FROM latchkey_refresh_families').get() as { n: number }).n;
  db.close();
  return {
    operations: ops,
    total: Object.values(ops).reduce((s, n) => s + n, 0),
    revokedStillValid,
    checkedRevoked: mustBeDead.size,
    maxSessionsPerUser,
    familiesWithTwoHeads,
    families: familyCount,
    unexpected,
  };
}
