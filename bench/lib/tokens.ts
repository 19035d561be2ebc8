/**
 * Access-token verification per second, in process: latchkey's `verify` (strict header checks,
 * claims, revocation look-up) against jose's `jwtVerify` used directly and `jsonwebtoken.verify`
 * (the library of the article, docs/article.md; it has no EdDSA, so ES256 and the article's HS256 with a string secret).
 */
import { createPublicKey, createSecretKey, randomBytes } from 'node:crypto';
import { exportJWK, jwtVerify, SignJWT } from 'jose';
import jwt from 'jsonwebtoken';
import { createAccessTokens, createMemoryRevocations, generateAccessTokenKey } from 'latchkey/tokens';
import { median } from './stats.js';

export interface VerifyRate {
  name: string;
  perSecond: number;
  min: number;
  max: number;
}

async function rate(work: () => unknown, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let count = 0;
  let started = performance.now();
  // Warm-up: a tenth of the time, not counted.
  while (performance.now() < started + ms / 10) await work();
  started = performance.now();
  while (performance.now() < end + ms / 10) {
    await work();
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

export async function verifyRates(quick: boolean): Promise<VerifyRate[]> {
  const ms = quick ? 200 : 2000;
  const rounds = quick ? 1 : 3;
  const issuer = 'bench';
  const audience = 'bench-api';
  const cases: { name: string; work: () => unknown }[] = [];
  for (const alg of ['EdDSA', 'ES256'] as const) {
    const key = await generateAccessTokenKey(alg);
    const ours = createAccessTokens({ issuer, audience, keys: [key], revocations: createMemoryRevocations() });
    const { token } = await ours.issue('user-42');
    cases.push({
      name: `latchkey verify (${alg})`,
      work: async () => {
        if ((await ours.verify(token)) === null) throw new Error('latchkey rejected a valid token');
      },
    });
    cases.push({
      name: `jose jwtVerify (${alg})`,
      work: () => jwtVerify(token, key.publicKey, { issuer, audience, algorithms: [alg] }),
    });
    if (alg === 'ES256') {
      const pem = createPublicKey({ key: (await exportJWK(key.publicKey)) as never, format: 'jwk' });
      cases.push({
        name: 'jsonwebtoken.verify (ES256, KeyObject)',
        work: () => jwt.verify(token, pem, { algorithms: ['ES256'], issuer, audience }),
      });
    }
  }
  const secret = randomBytes(32).toString('hex');
  const hs = await new SignJWT({ username: 'demo', employerType: 'x' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h') // the article uses 15 s; the bench outlives that
    .sign(createSecretKey(Buffer.from(secret)));
  cases.push({ name: 'jsonwebtoken.verify (HS256, string secret: the article)', work: () => jwt.verify(hs, secret) });

  const out: VerifyRate[] = [];
  for (const c of cases) {
    const samples: number[] = [];
    for (let i = 0; i < rounds; i++) samples.push(await rate(c.work, ms));
    out.push({ name: c.name, perSecond: median(samples), min: Math.min(...samples), max: Math.max(...samples) });
  }
  return out;
}
