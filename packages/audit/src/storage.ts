/** Findings from what a page's scripts can reach (`PageState`): where the login lives. */
import { classify, describeJwt, leaves, tooLong } from './detect.js';
import { type Finding, finding, mask } from './findings.js';
import type { PageState } from './page-state.js';
import { scanSecrets } from './secrets.js';

/** The places of a page state, each as [label, value]: `localStorage["user"]`, `IndexedDB notes/items`. */
function places(state: PageState): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(state.localStorage)) out.push([`localStorage[${JSON.stringify(k)}]`, v]);
  for (const [k, v] of Object.entries(state.sessionStorage)) out.push([`sessionStorage[${JSON.stringify(k)}]`, v]);
  for (const [k, v] of Object.entries(state.indexedDB)) out.push([`IndexedDB ${k}`, v]);
  for (const [cache, entries] of Object.entries(state.caches))
    for (const [url, body] of Object.entries(entries))
      if (body !== '') out.push([`Cache Storage ${cache} ${url}`, body]);
  for (const [k, v] of Object.entries(state.globals)) out.push([`window.${k}`, v]);
  return out;
}

export async function checkPageState(url: string, state: PageState): Promise<Finding[]> {
  const out: Finding[] = [];
  const found: Array<{ at: string; path: string; text: string }> = [];
  for (const [where, value] of places(state)) {
    for (const [path, text] of leaves('', value))
      found.push({ at: path === '' ? where : `${where} ${path}`, path, text });
  }
  // API keys and private keys, by secretlint's patterns: every value in one pass, a line each.
  const secretLines = new Set<number>();
  const text = found.map((f) => f.text.replace(/[\r\n]+/g, ' ')).join('\n');
  for (const secret of text === '' ? [] : await scanSecrets(text)) {
    const leaf = found[secret.line - 1];
    if (leaf === undefined || secretLines.has(secret.line)) continue;
    secretLines.add(secret.line);
    out.push(finding('storage-secret', url, `${secret.kind}: ${mask(secret.value)}.`, leaf.at));
  }
  for (const [i, { at, path, text: value }] of found.entries()) {
    for (const c of classify(path, value)) {
      if (c.kind === 'jwt') {
        const described = describeJwt(c.info);
        out.push(finding('storage-jwt', url, `A JWT (${described}): ${mask(c.token)}.`, at));
        if (tooLong(c.info))
          out.push(finding('storage-jwt-lifetime', url, `The JWT's ${described.split(',')[0]}.`, at));
      } else if (c.kind === 'token' && secretLines.has(i + 1)) {
        // already reported as the kind of key secretlint named
      } else {
        const rule =
          c.kind === 'token' ? 'storage-token' : c.kind === 'password' ? 'storage-password' : 'storage-personal-data';
        out.push(finding(rule, url, `${c.detail[0]?.toUpperCase()}${c.detail.slice(1)}.`, at));
      }
    }
  }
  // document.cookie: a JWT there is as readable as in localStorage. Other cookies are judged by the
  // cookie checks, which see every attribute.
  for (const pair of state.cookie.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 1) continue;
    const name = pair.slice(0, eq).trim();
    for (const found of classify(name, pair.slice(eq + 1).trim())) {
      if (found.kind !== 'jwt') continue;
      const described = describeJwt(found.info);
      out.push(finding('storage-jwt', url, `A JWT (${described}): ${mask(found.token)}.`, `document.cookie ${name}`));
      if (tooLong(found.info))
        out.push(
          finding('storage-jwt-lifetime', url, `The JWT's ${described.split(',')[0]}.`, `document.cookie ${name}`),
        );
    }
  }
  const origin = new URL(url).origin;
  for (const script of state.scripts) {
    let scriptOrigin: string;
    try {
      scriptOrigin = new URL(script.src).origin;
    } catch {
      continue;
    }
    if (scriptOrigin !== origin && (script.integrity === null || script.integrity.trim() === ''))
      out.push(
        finding('script-sri', url, `${script.src} (from ${scriptOrigin}) has no integrity attribute.`, `<script src>`),
      );
  }
  return out;
}
