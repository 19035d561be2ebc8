/**
 * The plain-http side of an HTTPS deployment: every request is answered with a redirect to the
 * same path on the configured https origin, and nothing else. The target comes from configuration,
 * never from the Host header (a forged Host would otherwise send users to an attacker's site).
 * 308 keeps the method; the page is never served over http, so no cookie is ever set there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigurationError } from '../errors.js';

/**
 * @param target the https origin, e.g. `https://app.example.org` or `https://localhost:3443`.
 * @example
 * http.createServer(createHttpsRedirect('https://app.example.org')).listen(80);
 */
export function createHttpsRedirect(target: string): (req: IncomingMessage, res: ServerResponse) => void {
  let url: URL | undefined;
  try {
    url = new URL(target);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== 'https:')
    throw new ConfigurationError(
      'createHttpsRedirect needs the https origin to send users to, such as https://app.example.org',
    );
  const origin = url.origin;
  return (req, res) => {
    const path = req.url ?? '/';
    // Only origin-relative paths: `//evil.example` or an absolute-form URL would leave our origin.
    const safe = path.startsWith('/') && !path.startsWith('//') && !/[\r\n\\]/.test(path) ? path : '/';
    res.writeHead(308, {
      location: `${origin}${safe}`,
      'cache-control': 'no-store',
      'content-type': 'text/plain; charset=utf-8',
      'x-content-type-options': 'nosniff',
    });
    res.end('Moved to HTTPS.\n');
  };
}
