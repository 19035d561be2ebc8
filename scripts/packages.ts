/**
 * The published packages and their entry points, read from each package.json's `exports`: the one
 * list that the source `paths` of tsconfig.json, the package checks and the API reference follow.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** One `exports` entry: `latchkey/memory` → dist/stores/memory.js, built from src/stores/memory.ts. */
export interface EntryPoint {
  /** What an app imports: `latchkey`, `latchkey/memory`, `@latchkey/client`. */
  specifier: string;
  /** The package's directory, relative to the repository root (`packages/server`). */
  dir: string;
  /** The built file `default` points at, relative to the package (`dist/stores/memory.js`). */
  dist: string;
  /** The TypeScript source it is built from, relative to the package (`src/stores/memory.ts`). */
  source: string;
}

export interface PublishedPackage {
  name: string;
  dir: string;
  entries: EntryPoint[];
}

/** The workspace packages that are published to npm (the others are private). */
export const PACKAGE_DIRS = ['packages/server', 'packages/client', 'packages/audit'] as const;

type ExportTarget = string | { types?: string; default?: string; [condition: string]: unknown };

export function readPackages(): PublishedPackage[] {
  return PACKAGE_DIRS.map((dir) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
      name: string;
      exports: Record<string, ExportTarget>;
    };
    const entries: EntryPoint[] = [];
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue; // ./package.json
      const dist = target.default;
      if (typeof dist !== 'string' || !/^\.\/dist\/.+\.js$/.test(dist)) {
        throw new Error(`${dir}/package.json: exports["${subpath}"].default should be ./dist/<file>.js, not ${dist}`);
      }
      entries.push({
        specifier: manifest.name + subpath.slice(1),
        dir,
        dist: dist.slice(2),
        source: dist
          .slice(2)
          .replace(/^dist\//, 'src/')
          .replace(/\.js$/, '.ts'),
      });
    }
    return { name: manifest.name, dir, entries };
  });
}
