/**
 * Time (#9): random clock jumps, forward and back, with validations in between. Whatever the
 * sequence, a session is never valid at or past its absolute limit, its idle expiry never moves
 * past that limit, and once it has been refused for expiry nothing brings it back.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { createMemoryStore } from '../stores/memory.js';
import { createSessionManager } from './manager.js';

const KEY = 'k'.repeat(43);

it('random clock jumps never extend a session past its absolute limit nor revive an expired one', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: -7200, max: 7200 }), { minLength: 1, maxLength: 40 }),
      async (jumps) => {
        let now = 1_800_000_000_000;
        const sessions = createSessionManager({
          store: createMemoryStore(),
          keys: [KEY],
          idleTimeout: 600,
          absoluteTimeout: 3600,
          sweepInterval: 0,
          now: () => now,
        });
        const { token, session } = await sessions.createSession('u1');
        const absolute = session.absoluteExpiresAt;
        let refused = false;
        for (const seconds of jumps) {
          now += seconds * 1000;
          const valid = await sessions.validateToken(token);
          if (valid) {
            expect(refused).toBe(false); // nothing revives a refused session
            expect(now).toBeLessThan(absolute);
            expect(valid.expiresAt).toBeLessThanOrEqual(absolute);
            expect(valid.absoluteExpiresAt).toBe(absolute);
          } else if (now >= session.createdAt) refused = true; // refused at or after its start: for good
        }
        sessions.close();
      },
    ),
    { numRuns: 300, seed: 2026 },
  );
});
