/**
 * The step between the password and the second factor (M2: a pending state is not a session): its
 * own HttpOnly cookie, no session behind it, single use, five minutes, and nothing for a forged or
 * tampered reference.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryOneTimeStore } from '../one-time/memory.js';
import { createOneTimeTokens } from '../one-time/tokens.js';
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager } from '../sessions/manager.js';
import { createMemoryStore } from '../stores/memory.js';
import { MINUTE, manualClock } from '../test/clock.js';
import { createSecondFactorStep, SECOND_FACTOR_PURPOSES } from './second-factor.js';
import { createSessionFlow } from './session-flow.js';

function setup() {
  const clock = manualClock();
  const tokens = createOneTimeTokens({
    store: createMemoryOneTimeStore(),
    purposes: SECOND_FACTOR_PURPOSES,
    now: clock.now,
  });
  const step = createSecondFactorStep(tokens);
  const cookieOf = (headers: Record<string, string>) => (headers['set-cookie'] ?? '').split(';')[0] ?? '';
  return { clock, tokens, step, cookieOf };
}

describe('the second-factor step (M2)', () => {
  it('begin sets its own strict cookie for 5 minutes and nothing else; the reference is opaque', async () => {
    const { step } = setup();
    // A user id with characters base64url lacks: a random reference can never contain it by chance
    // (`u1` did, about once in a hundred runs).
    const { headers } = await step.begin('user:1@example', { remember: true });
    expect(headers['set-cookie']).toMatch(
      /^__Host-second-factor=[A-Za-z0-9_-]{30,}; Max-Age=300; Path=\/; HttpOnly; Secure; SameSite=Strict$/,
    );
    expect(headers['set-cookie']).not.toContain('user:1@example');
    expect(headers['cache-control']).toBe('no-store');
  });

  it('is not a session: the session flow finds nobody with it', async () => {
    const { step, cookieOf } = setup();
    const sessions = createSessionManager({
      store: createMemoryStore(),
      keys: [generateSigningKey()],
      sweepInterval: 0,
    });
    const { headers } = await step.begin('u1');
    expect((await createSessionFlow(sessions).authenticate(cookieOf(headers), 'GET')).session).toBeNull();
  });

  it('pending names the user and keeps the step (a wrong code may be retried); complete ends it once', async () => {
    const { step, cookieOf } = setup();
    const cookie = cookieOf((await step.begin('u1', { remember: true })).headers);
    expect(await step.pending(cookie)).toEqual({ userId: 'u1', data: { remember: true } });
    expect(await step.pending(`theme=dark; ${cookie}`)).toEqual({ userId: 'u1', data: { remember: true } });
    const [first, second] = await Promise.all([step.complete(cookie), step.complete(cookie)]);
    expect([first, second].filter((r) => r !== null)).toHaveLength(1);
    expect((first ?? second)?.headers['set-cookie']).toMatch(/^__Host-second-factor=; Max-Age=0;/);
    expect(await step.pending(cookie)).toBeNull();
    expect(await step.complete(cookie)).toBeNull();
  });

  it('ends after 5 minutes, when a newer one begins, and on cancel', async () => {
    const { step, cookieOf, clock } = setup();
    const old = cookieOf((await step.begin('u1')).headers);
    clock.advance(5 * MINUTE);
    expect(await step.pending(old)).toBeNull();
    const a = cookieOf((await step.begin('u2')).headers);
    const b = cookieOf((await step.begin('u2')).headers);
    expect(await step.pending(a)).toBeNull(); // the newer one replaced it
    expect((await step.pending(b))?.userId).toBe('u2');
    expect((await step.cancel(b)).headers['set-cookie']).toMatch(/Max-Age=0/);
    expect(await step.pending(b)).toBeNull();
  });

  it('a missing, forged, tampered, truncated or huge cookie is nobody', async () => {
    const { step, cookieOf } = setup();
    const cookie = cookieOf((await step.begin('u1')).headers);
    const value = cookie.split('=')[1] ?? '';
    for (const header of [
      undefined,
      '',
      'theme=dark',
      '__Host-second-factor=',
      `__Host-second-factor=${value.slice(0, -1)}`,
      `__Host-second-factor=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`,
      `__Host-second-factor=${'A'.repeat(5000)}`,
      `__Host-session=${value}`,
    ])
      expect(await step.pending(header), String(header).slice(0, 40)).toBeNull();
  });

  it('needs tokens that know the purpose, and a short life', () => {
    expect(() => createSecondFactorStep(createOneTimeTokens({ store: createMemoryOneTimeStore() }))).toThrow(
      /SECOND_FACTOR_PURPOSES/,
    );
    const long = createOneTimeTokens({
      store: createMemoryOneTimeStore(),
      purposes: { 'second-factor': { ttl: 3600 } },
    });
    expect(() => createSecondFactorStep(long)).toThrow(/too long/);
  });
});
