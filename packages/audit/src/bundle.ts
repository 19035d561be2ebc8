/**
 * What a script the pages load gives away (the article's Angular note: a dev server's
 * `localhost:4200` left in compiled code): development origins, a published source map, secrets
 * (secretlint's recommended rules), JWTs, and passwords in configuration objects.
 */
import { decodeJwt, describeJwt, JWT_PATTERN } from './detect.js';
import { type Finding, finding, mask } from './findings.js';
import { scanSecrets } from './secrets.js';

// localhost, loopback, 0.0.0.0, the private IPv4 ranges, [::1] and .local names, with a scheme.
const DEV_ORIGIN =
  /\b(?:https?|wss?):\/\/(?:localhost|127(?:\.\d{1,3}){3}|0\.0\.0\.0|10(?:\.\d{1,3}){3}|192\.168(?:\.\d{1,3}){2}|172\.(?:1[6-9]|2\d|3[01])(?:\.\d{1,3}){2}|\[::1\]|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.local)(?::\d{1,5})?(?![\w.-])/gi;
const PASSWORD_IN_CONFIG =
  /["']?\b(?:password|passwd|pwd|db_?pass(?:word)?|admin_?pass(?:word)?)["']?\s*[:=]\s*(["'`])([^"'`\s\\]{4,200})\1/gi;
// What a password field's own attributes say, not a password.
const NOT_A_PASSWORD = /^(?:password|new-password|current-password|text|hidden|\*+|•+|changeme|required)$/i;
const SOURCE_MAP = /\/[/*][#@]\s*sourceMappingURL=(\S+?)\s*(?:\*\/)?\s*$/m;

/** The 1-based line of an offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** Where a script says its source map is: the SourceMap header, or the last sourceMappingURL comment. */
export function sourceMapUrl(
  scriptUrl: string,
  body: string,
  headers: Readonly<Record<string, string>>,
): string | undefined {
  const declared = headers.sourcemap ?? headers['x-sourcemap'] ?? SOURCE_MAP.exec(body.slice(-2000))?.[1];
  if (declared === undefined) return undefined;
  try {
    return new URL(declared, scriptUrl).href;
  } catch {
    return undefined;
  }
}

/**
 * The findings of one script's text. `siteOrigin`: the audited origin, which a script may name
 * (auditing http://localhost:3000 is not a dev origin left behind).
 */
export async function checkScriptBody(url: string, body: string, siteOrigin: string): Promise<Finding[]> {
  const out: Finding[] = [];
  const devOrigins = new Map<string, number>();
  for (const match of body.matchAll(DEV_ORIGIN)) {
    const origin = match[0].toLowerCase().replace(/^ws/, 'http');
    if (origin === siteOrigin.toLowerCase() || devOrigins.has(match[0])) continue;
    devOrigins.set(match[0], lineOf(body, match.index ?? 0));
  }
  for (const [origin, line] of devOrigins)
    out.push(finding('bundle-dev-origin', url, `The script points at ${origin}.`, `line ${line}`, line));

  for (const match of body.matchAll(JWT_PATTERN)) {
    const info = decodeJwt(match[0]);
    if (info === undefined) continue;
    const line = lineOf(body, match.index ?? 0);
    out.push(finding('bundle-jwt', url, `A JWT (${describeJwt(info)}): ${mask(match[0])}.`, `line ${line}`, line));
  }
  for (const match of body.matchAll(PASSWORD_IN_CONFIG)) {
    const value = match[2] ?? '';
    if (NOT_A_PASSWORD.test(value)) continue;
    const line = lineOf(body, match.index ?? 0);
    out.push(finding('bundle-password', url, `A password in the code: ${mask(value)}.`, `line ${line}`, line));
  }
  for (const secret of await scanSecrets(body)) {
    out.push(
      finding('bundle-secret', url, `${secret.kind}: ${mask(secret.value)}.`, `line ${secret.line}`, secret.line),
    );
  }
  return out;
}
