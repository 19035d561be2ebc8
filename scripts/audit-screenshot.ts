/**
 * docs/screenshots/audit.png: the terminal report of `latchkey audit` against the careless test
 * site, rendered as a terminal shows it (its ANSI colours, a monospace font) in headless Chromium.
 *
 *   node --import tsx scripts/audit-screenshot.ts
 */
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { formatText, runAudit } from '../packages/audit/src/index.js';
import { startCarelessSite } from '../packages/audit/src/test/careless-site.js';
import { root } from './packages.js';

const COLORS: Record<string, string> = {
  '1': 'font-weight:bold',
  '2': 'opacity:.6',
  '31': 'color:#ff6b6b',
  '33': 'color:#ffd166',
  '36': 'color:#5bc0eb',
};

/** ANSI SGR codes to spans; everything else escaped. */
function toHtml(text: string): string {
  const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  let open = 0;
  let html = '';
  const ESC = String.fromCharCode(27);
  const SGR = new RegExp(`^${ESC}\\[([\\d;]*)m$`);
  for (const part of text.split(new RegExp(`(${ESC}\\[[\\d;]*m)`))) {
    const sgr = SGR.exec(part);
    if (sgr === null) html += escapeHtml(part);
    else if (sgr[1] === '0' || sgr[1] === '') {
      html += '</span>'.repeat(open);
      open = 0;
    } else {
      html += `<span style="${(sgr[1] ?? '')
        .split(';')
        .map((c) => COLORS[c] ?? '')
        .join(';')}">`;
      open++;
    }
  }
  return html + '</span>'.repeat(open);
}

const site = await startCarelessSite();
try {
  const result = await runAudit({ url: site.origin });
  const text = formatText({ ...result, durationMs: Math.round(result.durationMs / 100) * 100 }, 'high', true)
    .replaceAll(site.origin, 'https://careless.example')
    .replaceAll(site.thirdPartyOrigin, 'https://cdn.example');
  const browser = await chromium.launch({
    executablePath: process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width: 1100, height: 400 } });
  await page.setContent(
    `<body style="margin:0;background:#1e1e2e;color:#e6e6e6"><pre style="margin:0;padding:18px 22px;font:13px/1.45 'DejaVu Sans Mono',monospace;white-space:pre-wrap">$ npx latchkey audit https://careless.example\n${toHtml(text)}</pre></body>`,
  );
  await page.screenshot({ path: join(root, 'docs/screenshots/audit.png'), fullPage: true });
  await browser.close();
  console.log('docs/screenshots/audit.png written');
} finally {
  await site.close();
}
