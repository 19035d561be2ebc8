/**
 * Crash safety: a storm of registrations (each one a login) and logouts against a server process,
 * killed with SIGKILL at a random moment, then restarted. Every login that was answered must still
 * be a live session, every logout that was answered must stay logged out, and (SQLite) the file
 * must pass `PRAGMA integrity_check`. Requests cut off by the kill are "unknown" and not judged.
 */
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { signUp } from '../test/accounts.js';
import { type ServerProcess, startServerProcess } from '../test/server-process.js';

export interface CrashOptions {
  cycles: number;
  dataDir: string;
  /** Extra environment (LATCHKEY_STORE=postgres …). */
  env?: Record<string, string>;
  sqliteIntegrity: boolean;
  onCycle?: (cycle: number, stats: CycleStats) => void;
}

export interface CycleStats {
  loginsAcked: number;
  logoutsAcked: number;
  unknown: number;
  checkedLive: number;
  checkedLoggedOut: number;
  lostSessions: number;
  undoneLogouts: number;
  integrity: string;
}

const PASSWORD = 'crash test password';

export async function runCrashCycles(
  options: CrashOptions,
): Promise<{ cycles: CycleStats[]; lostSessions: number; undoneLogouts: number }> {
  const live = new Map<string, string>(); // cookie value → username
  const loggedOut = new Set<string>();
  const env = {
    LATCHKEY_DATA_DIR: options.dataDir,
    LATCHKEY_DEMO_PASSWORD: 'crash demo password',
    // Many clients share 127.0.0.1 here: lift the per-address limits (the review suite tests them).
    LATCHKEY_LOGIN_IN_FLIGHT: '1000',
    LATCHKEY_REGISTRATIONS_PER_CLIENT: '100000',
    ...options.env,
  };
  const cycles: CycleStats[] = [];
  let n = 0;

  for (let cycle = 0; cycle < options.cycles; cycle++) {
    // A new port each time: the one the killed process held is an ephemeral port that a client
    // socket of a parallel test may have taken meanwhile (EADDRINUSE on restart).
    const server: ServerProcess = await startServerProcess(env);
    const origin = server.base;
    const stats: CycleStats = {
      loginsAcked: 0,
      logoutsAcked: 0,
      unknown: 0,
      checkedLive: 0,
      checkedLoggedOut: 0,
      lostSessions: 0,
      undoneLogouts: 0,
      integrity: 'n/a',
    };

    // 1. What the last cycle acknowledged survived the kill.
    const me = async (cookie: string) =>
      (await fetch(`${origin}/api/me`, { headers: { cookie: `__Host-session=${cookie}` } })).status;
    for (const cookie of live.keys()) {
      stats.checkedLive++;
      if ((await me(cookie)) !== 200) stats.lostSessions++;
    }
    for (const cookie of loggedOut) {
      stats.checkedLoggedOut++;
      if ((await me(cookie)) !== 401) stats.undoneLogouts++;
    }

    // 2. The storm, and the kill in the middle of it.
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const cookies = [...live.keys()];
        if (cookies.length > 5 && randomInt(10) < 4) {
          const cookie = cookies[randomInt(cookies.length)] as string;
          live.delete(cookie); // uncertain until answered
          try {
            const res = await fetch(`${origin}/api/auth/logout`, {
              method: 'POST',
              headers: { cookie: `__Host-session=${cookie}`, origin },
            });
            if (res.status === 200) {
              loggedOut.add(cookie);
              stats.logoutsAcked++;
            } else stats.unknown++;
          } catch {
            stats.unknown++;
          }
        } else {
          const username = `crash-${process.pid}-${n++}`;
          try {
            // Sign-up, the mailed link (dev inbox) and verify: the account is written, and logged in.
            const res = await signUp(origin, { email: `${username}@example.org`, password: PASSWORD, username });
            const cookie = /__Host-session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
            if (res.status === 200 && cookie) {
              live.set(cookie, username);
              stats.loginsAcked++;
            } else stats.unknown++;
          } catch {
            stats.unknown++;
          }
        }
      }
    };
    const workers = Array.from({ length: 12 }, worker);
    await new Promise((r) => setTimeout(r, 400 + randomInt(800)));
    await server.kill(); // SIGKILL, mid-storm
    stop = true;
    await Promise.all(workers);

    // 3. The file the dead process left behind.
    if (options.sqliteIntegrity) {
      const db = new Database(join(options.dataDir, 'latchkey.db'), { readonly: true });
      stats.integrity = String(db.pragma('integrity_check', { simple: true }));
      db.close();
    }
    cycles.push(stats);
    options.onCycle?.(cycle, stats);
  }

  // A last restart checks the final cycle's acknowledgements.
  const server = await startServerProcess(env);
  let lostSessions = cycles.reduce((s, c) => s + c.lostSessions, 0);
  let undoneLogouts = cycles.reduce((s, c) => s + c.undoneLogouts, 0);
  for (const cookie of live.keys())
    if ((await fetch(`${server.base}/api/me`, { headers: { cookie: `__Host-session=${cookie}` } })).status !== 200)
      lostSessions++;
  for (const cookie of loggedOut)
    if ((await fetch(`${server.base}/api/me`, { headers: { cookie: `__Host-session=${cookie}` } })).status !== 401)
      undoneLogouts++;
  await server.kill();
  return { cycles, lostSessions, undoneLogouts };
}
