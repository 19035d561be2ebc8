/**
 * The audit in a real Chromium against sites built for it: the careless fixture, where every
 * planted problem must be found and nothing else; a clean page; and every way an audit can fail
 * to run (exit code 2 and one line, never a stack trace).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from './audit.js';
import { main } from './cli.js';
import { AuditError } from './errors.js';
import { toSarif } from './report.js';
import { type CarelessSite, startCarelessSite } from './test/careless-site.js';
import { CHROMIUM, chromiumAvailable } from './test/chromium.js';
import { validateSarif } from './test/sarif.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'latchkey-audit-'));

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Runs the CLI in process; what it printed and its exit code. */
async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(['--chromium', CHROMIUM, ...argv], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    color: false,
  });
  return { code, out, err };
}

/** A page with every header right and nothing in it: the audit has nothing to say. */
const CLEAN_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

describe.runIf(chromiumAvailable())('latchkey audit in Chromium', { timeout: 90_000 }, () => {
  let site: CarelessSite;
  let clean: Server;
  let cleanOrigin = '';
  beforeAll(async () => {
    site = await startCarelessSite();
    clean = createHttpServer((_req, res) => {
      res.writeHead(200, CLEAN_HEADERS);
      res.end('<!doctype html><title>Fine</title><p>Nothing to see.</p>');
    });
    cleanOrigin = `http://${await listen(clean)}`;
  });
  afterAll(async () => {
    await site?.close();
    if (clean) await close(clean);
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds every planted problem of the careless site, and nothing else', async () => {
    const result = await runAudit({ url: site.origin, chromium: CHROMIUM });
    expect([...new Set(result.findings.map((f) => f.rule))].sort()).toEqual([...site.planted].sort());
    expect(result.pages).toEqual([`${site.origin}/`, `${site.origin}/about`]);
    expect(result.scripts.sort()).toEqual(
      [`${site.origin}/static/app.js`, `${site.thirdPartyOrigin}/widget.js`].sort(),
    );
    // It followed the same-origin link, never the links to other hosts.
    expect(site.elsewhere).toEqual([]);
    const secret = result.findings.find((f) => f.rule === 'bundle-secret');
    expect(secret).toMatchObject({ url: `${site.origin}/static/app.js`, line: 7, severity: 'critical' });
    expect(JSON.stringify(result)).not.toMatch(/ghp_[A-Za-z0-9]{36}/); // masked everywhere
    expect(result.findings.find((f) => f.rule === 'cookie-httponly')?.where).toBe('cookie __Host-sid');
    expect(result.findings.find((f) => f.rule === 'script-sri')?.detail).toContain(
      `${site.thirdPartyOrigin}/widget.js`,
    );

    const sarif = toSarif(result);
    expect(validateSarif(sarif)).toEqual([]);
    expect(sarif.runs[0]?.results?.map((r) => r.ruleId).sort()).toEqual(result.findings.map((f) => f.rule).sort());
  });

  it('the CLI: a report by severity, JSON, SARIF that validates, and exit 1 at or above --fail-on', async () => {
    const sarifFile = join(dir, 'careless.sarif');
    const text = await cli(site.origin, '--sarif', sarifFile, '--fail-on', 'medium');
    expect(text.code).toBe(1);
    expect(text.err).toBe('');
    expect(text.out).toMatch(/^latchkey audit http:\/\/127\.0\.0\.1:\d+\/\n2 page\(s\), 2 script\(s\)/);
    const order = ['CRITICAL (1)', 'HIGH (', 'MEDIUM (', 'LOW (1)'].map((h) => text.out.indexOf(h));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > (order[i - 1] as number)))).toBe(true);
    for (const rule of site.planted) expect(text.out).toContain(`  ${rule}  `);
    expect(text.out).toContain('Failing: findings at or above "medium"');
    expect(validateSarif(JSON.parse(readFileSync(sarifFile, 'utf8')))).toEqual([]);

    const json = await cli(site.origin, '--json', '--fail-on', 'critical');
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.out);
    expect(parsed.counts).toMatchObject({ critical: 1, low: 1 });
    expect(parsed.findings[0]).toMatchObject({ rule: 'bundle-secret', fix: expect.stringContaining('Revoke') });

    const passing = await cli(cleanOrigin, '--fail-on', 'info');
    expect(passing).toMatchObject({ code: 0, err: '' });
    expect(passing.out).toContain('No findings.');
  });

  it('a login step runs first, and cannot take the browser to another host', async () => {
    const leave = await runAudit({
      url: site.origin,
      chromium: CHROMIUM,
      login: async (page) => {
        await page.goto(`${site.elsewhereOrigin}/elsewhere`);
      },
    }).catch((error: unknown) => error);
    expect(leave).toBeInstanceOf(AuditError);
    expect((leave as AuditError).code).toBe('LOGIN_FAILED');
    expect((leave as AuditError).message).toContain('ERR_BLOCKED_BY_CLIENT');
    expect(site.elsewhere).toEqual([]);

    // A page that opens a popup to another host (a script can, without a click from the audit).
    const popup = await runAudit({
      url: site.origin,
      chromium: CHROMIUM,
      maxPages: 1,
      login: async (page) => {
        await page.evaluate((target) => void window.open(target), `${site.elsewhereOrigin}/popup`);
        await page.waitForTimeout(500);
      },
    });
    expect(popup.pages).toEqual([`${site.origin}/`]);
    expect(site.elsewhere).toEqual([]);

    const script = join(dir, 'login-throws.mjs');
    writeFileSync(
      script,
      'export default async function login() { throw new Error("the login button was not found"); }\n',
    );
    const thrown = await cli(site.origin, '--login', script);
    expect(thrown).toEqual({
      code: 2,
      out: '',
      err: 'latchkey audit: the login step failed: the login button was not found\n',
    });
  });

  it('cannot run: bad arguments, an unreachable host, a TLS error, a page that never settles — exit 2, one line', async () => {
    const parked = createHttpServer(() => undefined); // accepts, never answers
    const parkedHost = await listen(parked);
    const keyDir = mkdtempSync(join(tmpdir(), 'latchkey-audit-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(keyDir, 'key.pem'),
        '-out',
        join(keyDir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const tls = createHttpsServer(
      { key: readFileSync(join(keyDir, 'key.pem')), cert: readFileSync(join(keyDir, 'cert.pem')) },
      (_req, res) => res.end('hello'),
    );
    const tlsHost = await listen(tls as unknown as Server);
    const closed = createHttpServer();
    const closedHost = await listen(closed);
    await close(closed);
    try {
      const cases: Array<[string[], RegExp]> = [
        [[], /^latchkey audit: give exactly one URL\n/],
        [['ftp://site.test/'], /^latchkey audit: only http and https URLs can be audited, not ftp:\n$/],
        [['not a url'], /^latchkey audit: "not a url" is not a URL: give one such as http:\/\/localhost:3000\n$/],
        [
          [cleanOrigin, '--fail-on', 'severe'],
          /^latchkey audit: --fail-on takes one of critical, high, medium, low, info, not "severe"\n$/,
        ],
        [[cleanOrigin, '--max-pages', 'many'], /^latchkey audit: --max-pages takes a number > 0, not "many"\n$/],
        [[cleanOrigin, '--login', join(dir, 'missing.mjs')], /^latchkey audit: --login: no file at .*missing\.mjs\n$/],
        [
          [cleanOrigin, '--storage-state', join(dir, 'missing.json')],
          /^latchkey audit: --storage-state: .* is not a readable JSON file\n$/,
        ],
        [[cleanOrigin, '--bogus'], /^latchkey audit: Unknown option '--bogus'/],
        [
          [`http://${closedHost}/`],
          /^latchkey audit: http:\/\/127\.0\.0\.1:\d+\/ cannot be reached \(ERR_CONNECTION_REFUSED\)\n$/,
        ],
        [
          [`https://${tlsHost}/`],
          /^latchkey audit: https:\/\/127\.0\.0\.1:\d+\/: the TLS certificate was refused \(ERR_CERT_[A-Z_]+\)\n$/,
        ],
        [
          [`http://${parkedHost}/`, '--timeout', '4'],
          /^latchkey audit: http:\/\/127\.0\.0\.1:\d+\/ did not finish loading within [1-4] s\n$/,
        ],
      ];
      for (const [argv, message] of cases) {
        const run = await cli(...argv);
        expect(run.code, argv.join(' ')).toBe(2);
        expect(run.out, argv.join(' ')).toBe('');
        expect(run.err, argv.join(' ')).toMatch(message);
        expect(run.err).not.toMatch(/\n\s+at /); // no stack trace
      }
      const noBrowser = await main([cleanOrigin, '--chromium', join(dir, 'no-chromium')], {
        out: () => undefined,
        err: (t) =>
          expect(t).toMatch(
            /^latchkey audit: no Chromium at .*no-chromium: install one \(apt-get install chromium\) or pass --chromium <path>\n$/,
          ),
        color: false,
      });
      expect(noBrowser).toBe(2);
    } finally {
      parked.closeAllConnections();
      await close(parked);
      await close(tls as unknown as Server);
      rmSync(keyDir, { recursive: true, force: true });
    }
  });

  it('the latchkey-audit bin runs as a command', async () => {
    // Not spawnSync: the page it audits is served by this very process.
    const run = (...argv: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'bin.ts'), ...argv]);
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c) => {
          stdout += c;
        });
        child.stderr.on('data', (c) => {
          stderr += c;
        });
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const audited = await run(cleanOrigin, '--chromium', CHROMIUM);
    expect(audited.stderr).toBe('');
    expect(audited.status).toBe(0);
    expect(audited.stdout).toContain('No findings.');
    const help = await run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: latchkey-audit <url> \[options\]/);
  });
});
