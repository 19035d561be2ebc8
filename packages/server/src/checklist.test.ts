/**
 * Test names carry requirement ids (`it('X2: …')`); docs/checklist.md defines them. A name that
 * uses an id the checklist does not define points at nothing: fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const IGNORED = new Set(['node_modules', 'dist', 'data', '.git']);

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (IGNORED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.tsx?$/.test(entry.name)) yield path;
  }
}

it('every requirement id in a test name is defined in docs/checklist.md', () => {
  const defined = new Set(
    [...readFileSync(join(root, 'docs/checklist.md'), 'utf8').matchAll(/^\|\s*([A-Z]\d{1,2})\s*\|/gm)].map((m) => m[1]),
  );
  expect(defined.size).toBeGreaterThan(40);
  const used = new Map<string, string>();
  for (const dir of ['packages', 'apps', 'examples']) {
    let files: string[];
    try {
      files = [...sources(join(root, dir))];
    } catch {
      continue; // a folder that does not exist yet
    }
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const title of text.matchAll(/\b(?:it|test|describe)\(\s*['"`]([^'"`]*)/g)) {
        // Ids open a title (`P4: …`) or sit in a parenthesised list (`… (F1, F3)`).
        const head = /^([A-Z]\d{1,2}(?:[,–-] ?[A-Z]\d{1,2})*):/.exec(title[1] ?? '')?.[1] ?? '';
        const list = /\(([A-Z]\d{1,2}(?:, ?[A-Z]\d{1,2})*)\)/.exec(title[1] ?? '')?.[1] ?? '';
        for (const id of `${head} ${list}`.match(/[A-Z]\d{1,2}/g) ?? []) used.set(id, file.slice(root.length));
      }
    }
  }
  expect(used.size).toBeGreaterThan(30);
  const undefinedIds = [...used].filter(([id]) => !defined.has(id)).map(([id, file]) => `${id} in ${file}`);
  expect(undefinedIds).toEqual([]);
});
