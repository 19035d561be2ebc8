/**
 * The downstream API behind the reference server's backend-for-frontend: its own process and
 * port, no cookies, no sessions. It trusts only bearer JWTs that verify against the reference
 * server's JWKS (issuer and audience fixed) and are not on the server's revocation list, and it
 * answers with data the web app shows. It never echoes a token back: the BFF passes its answers on
 * to the browser.
 */
import { createServer, type Server } from 'node:http';
import { errorBody } from 'latchkey/http';
import { type AccessTokenRevocations, createAccessTokenVerifier } from 'latchkey/tokens';
import { appErrors } from '../server/errors.js';

export const DOWNSTREAM_AUDIENCE = 'latchkey-demo-downstream';
export const DEMO_ISSUER = 'latchkey-demo';

const TIPS = [
  'A token in localStorage is readable by every script on the page; an HttpOnly cookie is not.',
  'Short-lived tokens limit the damage of a leak; revocation lists close the rest of the window.',
  'SameSite=Strict stops cross-site requests from carrying the cookie; Fetch Metadata stops same-site ones.',
  'Logout should end the server session, expire the cookie and clear the site data.',
  'A refresh token used twice means two parties hold it: end the whole family.',
];

export interface DownstreamOptions {
  jwksUrl: URL;
  issuer?: string;
  audience?: string;
  /**
   * The reference server's revocation list, shared (SQLite file or Redis). Without it a revoked
   * token works here until it expires: only tests that do not revoke leave it out.
   */
  revocations?: AccessTokenRevocations;
}

export function createDownstream(options: DownstreamOptions): Server {
  const verifier = createAccessTokenVerifier({
    jwksUrl: options.jwksUrl,
    issuer: options.issuer ?? DEMO_ISSUER,
    audience: options.audience ?? DOWNSTREAM_AUDIENCE,
    ...(options.revocations ? { revocations: options.revocations } : {}),
  });
  let served = 0;
  return createServer(async (req, res) => {
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        ...headers,
      });
      res.end(JSON.stringify(body));
    };
    const auth = req.headers.authorization;
    const token = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7) : '';
    const verified = token ? await verifier.verify(token) : null;
    // Fail closed, and say why: a revocation list too old to trust refuses every token (a 503 the
    // client retries, not a 401 that would send it to log in again).
    if (!verified && token && options.revocations && !options.revocations.available())
      return send(
        503,
        { error: { code: 'STORE_UNAVAILABLE', message: 'Tokens cannot be checked right now; try again shortly.' } },
        { 'retry-after': '1' },
      );
    if (!verified)
      return send(appErrors.INVALID_TOKEN.status, errorBody(appErrors.INVALID_TOKEN), {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    if (req.method === 'GET' && req.url === '/api/tip') {
      served++;
      // What the token proved, never the token itself.
      return send(200, {
        tip: TIPS[served % TIPS.length],
        servedBy: 'downstream',
        subject: verified.subject,
        tokenLifetimeSeconds: Math.round((verified.expiresAt - verified.issuedAt) / 1000),
        tokenExpiresAt: new Date(verified.expiresAt).toISOString(),
      });
    }
    return send(404, errorBody('NOT_FOUND'));
  });
}
