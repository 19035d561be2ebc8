/**
 * `runAudit`: drives a real headless Chromium through a site and collects every finding. It
 * follows same-origin links up to a page limit, never navigates to another host (subresources
 * load as the browser loads them), reads what a page's scripts can reach, the cookies as the
 * browser holds them, the headers of documents and scripts, and the text of every script.
 */
import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page, type Response } from 'playwright-core';
import { checkScriptBody, sourceMapUrl } from './bundle.js';
import { checkCookies } from './cookies.js';
import { AuditError } from './errors.js';
import { type Finding, finding, sortFindings } from './findings.js';
import { checkDocumentHeaders, checkScriptHeaders } from './headers.js';
import { type PageState, READ_PAGE_STATE } from './page-state.js';
import { checkPageState } from './storage.js';

/** Logs in before the crawl: it gets the audit's page, already on `url`. Throwing ends the audit (exit 2). */
export type LoginStep = (page: Page, context: { url: string }) => Promise<void> | void;

/**
 * What `runAudit` audits and how far it goes.
 *
 * @example
 * const options: AuditOptions = { url: 'http://localhost:3000', maxPages: 10, timeout: 60 };
 */
export interface AuditOptions {
  /** Where to start: an http(s) URL. Only this origin is crawled. */
  url: string;
  /** A login step run before the crawl (`--login script.mjs`). */
  login?: LoginStep;
  /** A Playwright storage state file (cookies and localStorage) to start from (`--storage-state`). */
  storageState?: string;
  /** Pages to visit at most. Default 20. */
  maxPages?: number;
  /** Seconds for the whole audit. Default 120. */
  timeout?: number;
  /** Seconds for one page to load. Default 20 (never more than what is left of `timeout`). */
  pageTimeout?: number;
  /** The Chromium to drive. Default `LATCHKEY_AUDIT_CHROMIUM`, then /usr/bin/chromium. */
  chromium?: string;
}

/**
 * What an audit found: the findings, worst first, and what it looked at.
 *
 * @example
 * const { findings, pages } = await runAudit({ url: 'http://localhost:3000' });
 */
export interface AuditResult {
  /** The start URL, normalized. */
  url: string;
  findings: Finding[];
  /** Pages visited, in order. */
  pages: string[];
  /** Scripts whose text was checked. */
  scripts: string[];
  durationMs: number;
}

const SKIP_LINK =
  /\/(?:log-?out|sign-?out|logoff|signoff)\b|\.(?:pdf|zip|gz|png|jpe?g|gif|svg|webp|ico|mp4|mp3|woff2?|css|js|map|json|xml|txt)$/i;

function startUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AuditError('BAD_URL', `"${raw.slice(0, 200)}" is not a URL: give one such as http://localhost:3000`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AuditError('BAD_URL', `only http and https URLs can be audited, not ${url.protocol}`);
  url.hash = '';
  return url;
}

/** What a failed first navigation means, in a sentence. */
function navigationError(url: string, error: unknown, timeout: number): AuditError {
  const message = error instanceof Error ? error.message : String(error);
  if (/Timeout|timeout/.test(message))
    return new AuditError('TIMEOUT', `${url} did not finish loading within ${timeout} s`);
  if (/ERR_CERT|SSL|ERR_BAD_SSL/.test(message))
    return new AuditError(
      'TLS',
      `${url}: the TLS certificate was refused (${/net::(ERR_[A-Z_]+)/.exec(message)?.[1] ?? 'TLS error'})`,
    );
  const code = /net::(ERR_[A-Z_]+)/.exec(message)?.[1];
  return new AuditError('UNREACHABLE', `${url} cannot be reached${code === undefined ? '' : ` (${code})`}`);
}

function launchPath(explicit: string | undefined): string {
  const path = explicit ?? process.env.LATCHKEY_AUDIT_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(path))
    throw new AuditError(
      'BROWSER',
      `no Chromium at ${path}: install one (apt-get install chromium) or pass --chromium <path>`,
    );
  return path;
}

/**
 * @example
 * const result = await runAudit({ url: 'http://localhost:3000', maxPages: 10 });
 * for (const f of result.findings) console.log(f.severity, f.rule, f.detail);
 */
export async function runAudit(options: AuditOptions): Promise<AuditResult> {
  const started = Date.now();
  const start = startUrl(options.url);
  const maxPages = options.maxPages ?? 20;
  const timeout = options.timeout ?? 120;
  if (!Number.isInteger(maxPages) || maxPages < 1)
    throw new AuditError('BAD_ARGUMENT', '--max-pages must be a whole number ≥ 1');
  if (!(timeout > 0)) throw new AuditError('BAD_ARGUMENT', '--timeout must be a number of seconds > 0');
  const deadline = started + timeout * 1000;
  const path = launchPath(options.chromium);

  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: path,
      args: [
        '--headless',
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        '--disable-gpu',
        '--no-first-run',
        // No traffic of Chromium's own: the audit talks to the audited host and its subresources only.
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-default-apps',
        '--disable-domain-reliability',
      ],
    });
  } catch (error) {
    throw new AuditError('BROWSER', `Chromium at ${path} did not start: ${String(error).split('\n')[0]}`);
  }
  // A hard stop a little after the deadline, whatever the browser is doing.
  let timer: NodeJS.Timeout | undefined;
  const hardStop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AuditError('TIMEOUT', `the audit did not finish within its time limit (${timeout} s)`)),
      Math.max(0, deadline - Date.now()) + 10_000,
    );
  });
  try {
    return await Promise.race([crawl(browser, start, options, maxPages, deadline, started), hardStop]);
  } finally {
    clearTimeout(timer);
    await browser.close().catch(() => undefined);
  }
}

async function crawl(
  browser: Browser,
  start: URL,
  options: AuditOptions,
  maxPages: number,
  deadline: number,
  started: number,
): Promise<AuditResult> {
  let context: BrowserContext;
  try {
    context = await browser.newContext(
      options.storageState === undefined ? {} : { storageState: options.storageState },
    );
  } catch (error) {
    throw new AuditError('BAD_ARGUMENT', `the storage state could not be read: ${String(error).split('\n')[0]}`);
  }
  const page = await context.newPage();
  // Never leave the audited host: a top-level navigation elsewhere (a link, a redirect, a login
  // script's click, a popup the page opens) is cancelled. Subresources and frames load as the
  // browser loads them.
  await context.route('**/*', (route, request) => {
    const target = new URL(request.url());
    const leaving =
      request.isNavigationRequest() && request.frame().parentFrame() === null && target.host !== start.host;
    return leaving ? route.abort('blockedbyclient') : route.fallback();
  });

  const findings: Finding[] = [];
  const documents: Array<{ url: string; response: Response }> = [];
  const scripts = new Map<string, Promise<void>>();
  const siteOrigin = start.origin;
  page.on('response', (response) => {
    const request = response.request();
    const type = request.resourceType();
    if (type === 'document' && request.frame() === page.mainFrame()) documents.push({ url: response.url(), response });
    if (type === 'script' && !scripts.has(response.url()) && response.status() < 300) {
      scripts.set(response.url(), checkScript(context, response, siteOrigin, start.host, findings));
    }
  });

  const pageTimeout = (options.pageTimeout ?? 20) * 1000;
  const remaining = () => deadline - Date.now();
  const visit = async (url: string): Promise<PageState> => {
    await page.goto(url, { waitUntil: 'load', timeout: Math.max(1000, Math.min(pageTimeout, remaining())) });
    await page.waitForTimeout(300); // late writes to storage after load (a login's answer, a sync)
    return (await page.evaluate(READ_PAGE_STATE)) as PageState;
  };

  // The first page: failing here means nothing can be audited.
  const firstTimeout = Math.max(1000, Math.min(pageTimeout, remaining()));
  try {
    await page.goto(start.href, { waitUntil: 'load', timeout: firstTimeout });
  } catch (error) {
    throw navigationError(start.href, error, Math.round(firstTimeout / 1000));
  }
  if (options.login !== undefined) {
    try {
      await options.login(page, { url: start.href });
    } catch (error) {
      const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.slice(0, 300);
      throw new AuditError('LOGIN_FAILED', `the login step failed: ${message}`);
    }
  }

  const queue: string[] = [start.href];
  const afterLogin = new URL(page.url());
  afterLogin.hash = '';
  if (afterLogin.host === start.host && afterLogin.href !== start.href) queue.push(afterLogin.href);
  const seen = new Set(queue);
  const pages: string[] = [];
  const cut: string[] = [];
  const metaCsp = new Map<string, string[]>(); // policies from <meta http-equiv> count as policies
  while (queue.length > 0) {
    const url = queue.shift() as string;
    if (pages.length >= maxPages) {
      cut.push(`${queue.length + 1} more page(s) past --max-pages ${maxPages}`);
      break;
    }
    if (remaining() < 1000) {
      cut.push(`the time limit stopped the crawl before ${url}`);
      break;
    }
    let state: PageState;
    try {
      state = await visit(url);
    } catch (error) {
      if (pages.length === 0) throw navigationError(url, error, Math.round(pageTimeout / 1000));
      cut.push(`${url} did not load (${String(error).split('\n')[0]?.slice(0, 120)})`);
      continue;
    }
    const landed = page.url();
    pages.push(landed);
    metaCsp.set(landed, state.metaCsp);
    findings.push(...(await checkPageState(landed, state)));
    for (const link of state.links) {
      let next: URL;
      try {
        next = new URL(link);
      } catch {
        continue;
      }
      next.hash = '';
      if (next.origin !== start.origin || SKIP_LINK.test(next.pathname) || seen.has(next.href)) continue;
      seen.add(next.href);
      queue.push(next.href);
    }
  }

  for (const { url, response } of documents) {
    if (new URL(url).host !== start.host) continue;
    let headers: Record<string, string>;
    try {
      headers = await response.allHeaders();
    } catch {
      continue;
    }
    findings.push(...checkDocumentHeaders(url, headers, metaCsp.get(url) ?? []));
  }
  await Promise.all(scripts.values());
  // Every cookie of the host, asked of the browser itself (HttpOnly ones too). Not cookies(url):
  // Playwright leaves Secure cookies out for an http: URL, though Chromium sends them to 127.0.0.1.
  const host = start.hostname;
  const ours = (await context.cookies()).filter((c) => {
    const domain = c.domain.replace(/^\./, '');
    return host === domain || host.endsWith(`.${domain}`);
  });
  findings.push(...checkCookies(start.href, ours));
  for (const reason of cut) findings.push(finding('audit-incomplete', start.href, `Not audited: ${reason}.`));
  await context.close().catch(() => undefined);
  return {
    url: start.href,
    findings: sortFindings(findings),
    pages,
    scripts: [...scripts.keys()],
    durationMs: Date.now() - started,
  };
}

/** A script's text, headers and source map; a source map is fetched only from the audited host. */
async function checkScript(
  context: BrowserContext,
  response: Response,
  siteOrigin: string,
  host: string,
  findings: Finding[],
): Promise<void> {
  const url = response.url();
  let body: string;
  let headers: Record<string, string>;
  try {
    [body, headers] = await Promise.all([response.text(), response.allHeaders()]);
  } catch {
    return; // the page went on before the body was read
  }
  findings.push(...(await checkScriptBody(url, body, siteOrigin)));
  const sameOrigin = new URL(url).origin === siteOrigin;
  if (sameOrigin) findings.push(...checkScriptHeaders(url, headers));
  const map = sourceMapUrl(url, body, headers);
  if (map === undefined) return;
  if (map.startsWith('data:')) {
    findings.push(finding('bundle-source-map', url, 'The script carries its source map inline (a data: URL).'));
    return;
  }
  if (new URL(map).host !== host) return; // never a request to another host
  try {
    const answer = await context.request.get(map, { timeout: 10_000, maxRedirects: 0 });
    const text = answer.ok() ? await answer.text() : '';
    if (/^\s*\{/.test(text) && text.includes('"mappings"'))
      findings.push(finding('bundle-source-map', url, `The source map is published at ${map}.`));
  } catch {
    // unreachable map: nothing published
  }
}
