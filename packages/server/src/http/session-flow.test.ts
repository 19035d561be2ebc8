import { describe, expect, it } from 'vitest';
import { generateSigningKey } from '../sessions/key-ring.js';
import { createSessionManager } from '../sessions/manager.js';
import { createMemoryStore } from '../stores/memory.js';
import { CLEAR_SITE_DATA, createSessionFlow } from './session-flow.js';

function setup() {
  const sessions = createSessionManager({ store: createMemoryStore(), keys: [generateSigningKey()], sweepInterval: 0 });
  return { sessions, flow: createSessionFlow(sessions) };
}

const cookieValue = (setCookie: string | undefined) => /^__Host-session=([^;]*)/.exec(setCookie ?? '')?.[1] ?? '';

describe('session flow (cookie level)', () => {
  it('S3: every single-byte change of a valid cookie value is rejected', async () => {
    const { flow } = setup();
    const { headers } = await flow.login(undefined, 'u1');
    const value = cookieValue(headers['set-cookie']);
    expect(value).toHaveLength(89);
    expect((await flow.authenticate(`__Host-session=${value}`)).session?.userId).toBe('u1');
    let tried = 0;
    for (let i = 0; i < value.length; i++) {
      for (let c = 0; c < 256; c++) {
        if (c === value.charCodeAt(i)) continue;
        const changed = value.slice(0, i) + String.fromCharCode(c) + value.slice(i + 1);
        const { session } = await flow.authenticate(`__Host-session=${changed}`);
        if (session !== null) throw new Error(`accepted a change at ${i} to byte ${c}`);
        tried++;
      }
    }
    expect(tried).toBe(89 * 255);
  });

  it('a dead cookie is expired in the browser; no cookie means no header', async () => {
    const { flow } = setup();
    expect((await flow.authenticate(undefined)).headers).toEqual({});
    const dead = await flow.authenticate('__Host-session=nope');
    expect(dead.session).toBeNull();
    expect(dead.headers['set-cookie']).toMatch(/^__Host-session=; Max-Age=0;/);
    expect(dead.headers['cache-control']).toBe('no-store');
  });

  it('revoke-all leaves no live session for the user', async () => {
    const { flow, sessions } = setup();
    const cookies = [];
    for (let i = 0; i < 5; i++) cookies.push((await flow.login(undefined, 'u1')).headers['set-cookie']);
    const other = (await flow.login(undefined, 'u2')).headers['set-cookie'];
    expect(await sessions.revokeUserSessions('u1')).toBe(5);
    for (const c of cookies) expect((await flow.authenticate(`__Host-session=${cookieValue(c)}`)).session).toBeNull();
    expect(await sessions.listUserSessions('u1')).toEqual([]);
    expect((await flow.authenticate(`__Host-session=${cookieValue(other)}`)).session?.userId).toBe('u2');
  });

  it('L2: logout revokes and asks the browser to clear site data', async () => {
    const { flow } = setup();
    const cookie = `__Host-session=${cookieValue((await flow.login(undefined, 'u1')).headers['set-cookie'])}`;
    // C7: an answer that carries a session is never stored by a cache.
    expect((await flow.authenticate(cookie)).headers).toEqual({ 'cache-control': 'no-store' });
    const out = await flow.logout(cookie);
    expect(out.revoked).toBe(true);
    expect(out.headers['clear-site-data']).toBe(CLEAR_SITE_DATA);
    expect((await flow.authenticate(cookie)).session).toBeNull();
    expect((await flow.logout(cookie)).revoked).toBe(false);
  });
});
