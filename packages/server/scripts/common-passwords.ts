/**
 * Regenerates src/password/common-passwords.txt: the passwords of 8 or more characters from the
 * zxcvbn frequency list (@zxcvbn-ts/language-common, MIT), most common first, lower-cased and
 * de-duplicated. Shorter ones are refused by the length rule anyway.
 *   node --import tsx packages/server/scripts/common-passwords.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const source = readFileSync(require.resolve('@zxcvbn-ts/language-common/dist/passwords.json.js'), 'utf8');
const match = /"([^"]+)"/.exec(source);
if (!match?.[1]) throw new Error('password list not found in @zxcvbn-ts/language-common');
const seen = new Set<string>();
for (const word of match[1].split(',')) {
  const lower = word.toLowerCase();
  if (lower.length >= 8) seen.add(lower);
}
const out = new URL('../src/password/common-passwords.txt', import.meta.url);
writeFileSync(out, `${[...seen].join('\n')}\n`);
process.stdout.write(`${seen.size} passwords written to ${out.pathname}\n`);
