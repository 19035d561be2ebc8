/**
 * Attacks on the account flows from a security review: who ends up holding a sign-up, what an undo
 * leaves to whoever changed the address, what a pending change reveals, what an unqueued mailer's
 * time reveals, and how far one session or one mailbox can push mail out.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createSmtpMailer } from '../mail/smtp.js';
import { createPostgresOneTimeStore } from '../one-time/postgres.js';
import { createRedisOneTimeStore } from '../one-time/redis.js';
import { createSqliteOneTimeStore } from '../one-time/sqlite.js';
import type { OneTimeTokenStore } from '../one-time/store.js';
import { createOneTimeTokens } from '../one-time/tokens.js';
import { createRateLimit } from '../password/rate-limit.js';
import { hasher, LINKS, PASSWORD, recordingMailer, setupAccounts, tokenIn, wideLimits } from '../test/accounts.js';
import { HOUR, MINUTE } from '../test/clock.js';
import { POSTGRES_URL, REDIS_URL, serviceAvailable } from '../test/services.js';
import { startSmtpServer } from '../test/smtp.js';
import { ACCOUNT_PURPOSES, createAccountFlows } from './flows.js';

const hasRedis = await serviceAvailable('redis', 6379);
const hasPostgres = await serviceAvailable('postgres', 5432);

const CLIENT = '198.51.100.7';
const ATTACKER = '203.0.113.66';
const MALLORY_PASSWORD = 'mallory knows this one';
const VICTIM_PASSWORD = 'the victim chose this';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;

describe('sign-up: the link proves the mailbox, not who chose the password', () => {
  it('A2: a sign-up by the owner within the window of an attacker’s cannot end with the attacker’s password', async () => {
    // The default address limit: one mail per address per 10 minutes.
    const { accounts, mailer, users } = setupAccounts({ limits: {} });
    // Mallory signs up with Ann's address and a password of hers; Ann gets the "finish signing up" mail.
    await accounts.register({ email: 'ann@example.com', password: MALLORY_PASSWORD }, ATTACKER);
    // Minutes later Ann signs up herself: the address had its mail for the window, so none is sent.
    expect(await accounts.register({ email: 'ann@example.com', password: VICTIM_PASSWORD }, CLIENT)).toEqual({
      ok: true,
    });
    expect(mailer.sent).toHaveLength(1);
    // Ann follows the only link in her inbox, the way the page would post it (with or without her password).
    const token = tokenIn(mailer.sent[0]);
    for (const input of [token, { token }, { token, password: VICTIM_PASSWORD }])
      await accounts.verifyEmail(input as never).catch(() => null);
    // Whatever became of it, no account opens with Mallory's password.
    for (const user of users.values())
      expect((await hasher.verify(user.passwordHash, MALLORY_PASSWORD)).ok).toBe(false);
  });

  it('the registrant finishes with the password chosen at sign-up; a wrong one leaves the link working', async () => {
    const { accounts, mailer, users, events } = setupAccounts();
    await accounts.register({ email: 'ann@example.com', password: PASSWORD }, CLIENT);
    const token = tokenIn(mailer.sent[0]);
    expect(await accounts.verifyEmail({ token, password: 'not the password' })).toEqual({
      ok: false,
      error: 'INVALID_CREDENTIALS',
      headers: {},
    });
    expect(await accounts.verifyEmail({ token })).toMatchObject({ ok: false, error: 'BAD_REQUEST' });
    expect(await accounts.verifyEmail({ token, password: 'x'.repeat(5000) })).toMatchObject({
      error: 'INVALID_CREDENTIALS',
    });
    expect(users.size).toBe(0);
    expect(await accounts.verifyEmail({ token, password: PASSWORD })).toEqual({ ok: true, userId: 'user-1' });
    expect(await accounts.verifyEmail({ token, password: PASSWORD })).toMatchObject({ error: 'TOKEN_INVALID' });
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });
});

describe('e-mail change: undo', () => {
  it('undo: the password of whoever changed the address stops working (they needed it for the fresh session)', async () => {
    const { accounts, mailer, users, signUp } = setupAccounts();
    const id = await signUp('ann@example.com', PASSWORD);
    // Mallory knows Ann's password (a fresh session needs it), moves the account to her address and confirms.
    await accounts.requestEmailChange(id, 'mallory@evil.example');
    const [confirm, undo] = mailer.sent.slice(-2);
    await accounts.confirmEmailChange(tokenIn(confirm));
    expect(await accounts.undoEmailChange(tokenIn(undo))).toEqual({ userId: id, email: 'ann@example.com' });
    // Every session ended; the password must end too, or Mallory logs straight back in.
    expect((await hasher.verify(users.get(id)?.passwordHash ?? '', PASSWORD)).ok).toBe(false);
    // Ann sets a new one with the link the undo mailed her.
    const mail = mailer.sent.at(-1);
    expect(mail?.to).toBe('ann@example.com');
    expect(await accounts.resetPassword({ token: tokenIn(mail), password: 'ann is back in charge' })).toEqual({
      ok: true,
      userId: id,
    });
  });

  it('undo after Mallory reset the password through the new address: her password stops working', async () => {
    const { accounts, mailer, users, signUp, clock } = setupAccounts();
    const id = await signUp('ann@example.com');
    await accounts.requestEmailChange(id, 'mallory@evil.example');
    const [confirm, undo] = mailer.sent.slice(-2);
    await accounts.confirmEmailChange(tokenIn(confirm));
    clock.advance(HOUR);
    await accounts.requestPasswordReset({ email: 'mallory@evil.example' }, ATTACKER);
    await accounts.resetPassword({ token: tokenIn(mailer.sent.at(-1)), password: MALLORY_PASSWORD });
    clock.advance(HOUR);
    expect(await accounts.undoEmailChange(tokenIn(undo))).not.toBeNull();
    expect((await hasher.verify(users.get(id)?.passwordHash ?? '', MALLORY_PASSWORD)).ok).toBe(false);
  });
});

describe('e-mail change: confirm and undo at once', () => {
  for (const first of ['confirm', 'undo'] as const)
    it(`an undo that answers "kept" leaves the old address set, even when the confirmation runs at the same time (${first} first)`, async () => {
      const { flows, mailer, users, signUp } = setupAccounts();
      const id = await signUp('ann@example.com');
      await flows.requestEmailChange(id, 'mallory@evil.example');
      await new Promise((resolve) => setImmediate(resolve)); // the mails are handed over
      const [confirm, undo] = mailer.sent.slice(-2);
      const calls = {
        confirm: () => flows.confirmEmailChange(tokenIn(confirm)),
        undo: () => flows.undoEmailChange(tokenIn(undo)),
      };
      const second = first === 'confirm' ? 'undo' : 'confirm';
      const [a, b] = await Promise.all([calls[first](), calls[second]()]);
      const undone = first === 'undo' ? a : b;
      expect(undone).toEqual({ userId: id, email: 'ann@example.com' });
      expect(users.get(id)?.email).toBe('ann@example.com');
    });
});

describe('e-mail change: what a session learns', () => {
  /** Mallory's own account, with a pending change to a mailbox of hers, then a change to `probe`. */
  async function probe(taken: boolean) {
    const { accounts, mailer, signUp } = setupAccounts();
    if (taken) await signUp('victim@example.com');
    const mallory = await signUp('mallory@evil.example');
    await accounts.requestEmailChange(mallory, 'mallory2@evil.example');
    const pending = tokenIn(mailer.sent.at(-2));
    const answer = await accounts.requestEmailChange(mallory, 'victim@example.com');
    return { answer, stillWorks: (await accounts.confirmEmailChange(pending)) !== null };
  }

  it('A2: a pending confirmation link dies alike whether or not the address asked for next has an account', async () => {
    const free = await probe(false);
    const taken = await probe(true);
    expect(taken.answer).toBe(free.answer);
    expect(taken.stillWorks).toBe(free.stillWorks);
  });

  it('A2: one session cannot mail addresses without end: e-mail change requests are counted per account', async () => {
    const { accounts, mailer, signUp } = setupAccounts({ limits: {} }); // the default limits
    const id = await signUp('mallory@evil.example');
    const sent = mailer.sent.length;
    const answers = [];
    for (let i = 0; i < 200; i++) answers.push(await accounts.requestEmailChange(id, `target-${i}@example.com`));
    const refused = answers.filter((a) => !a.ok);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ error: 'TOO_MANY_ATTEMPTS' });
    expect(mailer.sent.length - sent).toBeLessThanOrEqual(2 * 30);
  });
});

describe('mail windows', () => {
  it('A2: +tags of one mailbox share its window: a sign-up flood on ann+1@, ann+2@ … sends one mail', async () => {
    const { accounts, mailer } = setupAccounts({ limits: { ...wideLimits(), address: undefined } });
    for (let i = 0; i < 20; i++)
      await accounts.register({ email: `ann+${i}@example.com`, password: MALLORY_PASSWORD }, `10.0.0.${i}`);
    expect(mailer.sent).toHaveLength(1);
  });
});

describe('timing with a mailer that is not a queue', () => {
  it('A2: requestPasswordReset takes as long for an unknown address as for a known one over a real SMTP mailer (median of 80 each, within 0.5–2×)', async () => {
    const server = await startSmtpServer();
    const mailer = createSmtpMailer({ url: server.url, from: 'no-reply@app.example' });
    const address = createRateLimit({ name: 'attack-timing', perClient: { points: 100_000, duration: 60 } });
    const { flows, directory } = setupAccounts({ mailer, limits: { ...wideLimits(), address } });
    await directory.create({ email: 'ann@example.com', passwordHash: await hasher.hash(PASSWORD) });
    const time = async (email: string) => {
      const start = performance.now();
      await flows.requestPasswordReset({ email }, CLIENT);
      return performance.now() - start;
    };
    for (let i = 0; i < 20; i++) await time(i % 2 ? 'ann@example.com' : 'ghost@example.com'); // warm-up
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 80; i++) {
      known.push(await time('ann@example.com'));
      unknown.push(await time(`ghost-${i}@example.com`));
    }
    await server.waitFor(90, 15_000); // 10 warm-up and 80 timed mails to ann: each arrives
    await server.close();
    const ratio = median(unknown) / median(known);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});

describe('what the one-time store holds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-accounts-attack-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('A1: a leaked store file holds neither the address nor the password hash of a pending sign-up or change', async () => {
    const file = join(dir, 'leak.db');
    const db = new Database(file);
    const { accounts, mailer, users, signUp, clock } = setupAccounts({ store: createSqliteOneTimeStore(db) });
    const id = await signUp('ann@example.com');
    await accounts.register({ email: 'pending-person@example.com', password: PASSWORD }, CLIENT);
    clock.advance(MINUTE);
    await accounts.requestEmailChange(id, 'ann-new-home@example.com');
    const raw = Buffer.concat([readFileSync(file), readFileSync(`${file}-wal`)]).toString('latin1');
    db.close();
    expect(mailer.sent.length).toBeGreaterThan(2);
    expect(raw).toContain('latchkey_one_time_tokens'); // the file is the store's
    for (const secret of ['pending-person', 'ann-new-home', 'ann@example.com', '$argon2id$'])
      expect(raw.includes(secret), `${secret} is in the file`).toBe(false);
    expect(users.size).toBe(1);
  });
});

describe('concurrent use of one link on two connections, over real stores', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-accounts-race-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const id = () => randomBytes(4).toString('hex');

  /** Two stores over one storage (two connections, as two instances would have), and how to close them. */
  const backends: {
    name: string;
    run: boolean;
    open: () => Promise<[OneTimeTokenStore, OneTimeTokenStore, () => Promise<void>]>;
  }[] = [
    {
      name: 'a SQLite file',
      run: true,
      async open() {
        const file = join(dir, `race-${id()}.db`);
        const [a, b] = [new Database(file), new Database(file)];
        return [
          createSqliteOneTimeStore(a),
          createSqliteOneTimeStore(b),
          async () => void [a, b].map((db) => db.close()),
        ];
      },
    },
    {
      name: 'Redis',
      run: hasRedis,
      async open() {
        const keyPrefix = `lk-test:race:${id()}:`;
        const [a, b] = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
        const close = async () => {
          const keys = await a.keys(`${keyPrefix}*`);
          if (keys.length > 0) await a.del(...keys);
          await Promise.all([a.quit(), b.quit()]);
        };
        return [createRedisOneTimeStore(a, { keyPrefix }), createRedisOneTimeStore(b, { keyPrefix }), close];
      },
    },
    {
      name: 'PostgreSQL',
      run: hasPostgres,
      async open() {
        const tablePrefix = `lk_race_${id()}_`;
        const [a, b] = [
          new pg.Pool({ connectionString: POSTGRES_URL, max: 4 }),
          new pg.Pool({ connectionString: POSTGRES_URL, max: 4 }),
        ];
        const close = async () => {
          await a.query(`DROP TABLE IF EXISTS ${tablePrefix}tokens, ${tablePrefix}schema_version`);
          await Promise.all([a.end(), b.end()]);
        };
        const first = await createPostgresOneTimeStore(a, { tablePrefix });
        return [first, await createPostgresOneTimeStore(b, { tablePrefix }), close];
      },
    },
  ];

  for (const backend of backends)
    it.runIf(backend.run)(
      `A1: over ${backend.name}, a sign-up link and a reset link each work once, whichever instance is asked`,
      async () => {
        const [store, peer, close] = await backend.open();
        try {
          const setup = setupAccounts({ store });
          const { accounts, mailer, users, ended, directory, clock, calls } = setup;
          const other = createAccountFlows({
            directory,
            tokens: createOneTimeTokens({ store: peer, purposes: ACCOUNT_PURPOSES, now: clock.now }),
            mailer: recordingMailer(),
            links: LINKS,
            appName: 'Acme',
            endSessions: (userId, reason) => void ended.push({ userId, reason }),
            hasher,
            limits: wideLimits(),
            now: clock.now,
          });
          const both = [accounts, other];
          await accounts.register({ email: 'ann@example.com', password: PASSWORD }, CLIENT);
          const verify = tokenIn(mailer.sent.at(-1));
          const verified = await Promise.all(
            Array.from({ length: 8 }, (_, i) => both[i % 2]?.verifyEmail({ token: verify, password: PASSWORD })),
          );
          expect(verified.filter((v) => v?.ok)).toHaveLength(1);
          expect(calls.filter((c) => c === 'create')).toHaveLength(1);
          expect(users.size).toBe(1);

          await accounts.requestPasswordReset({ email: 'ann@example.com' }, CLIENT);
          const reset = tokenIn(mailer.sent.at(-1));
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              both[i % 2]?.resetPassword({ token: reset, password: `concurrent passphrase ${i}` }),
            ),
          );
          expect(results.filter((r) => r?.ok)).toHaveLength(1);
          expect(calls.filter((c) => c === 'setPasswordHash')).toHaveLength(1);
          expect(ended).toHaveLength(1);
        } finally {
          await close();
        }
      },
    );
});
