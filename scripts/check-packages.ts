/**
 * `npm run check:packages`: the two published packages, checked as an adopter receives them.
 *
 * 1. tsconfig.json's `paths` send every `exports` entry to its source, so the workspace (tsc,
 *    vitest, vite, tsx child processes) runs from TypeScript without a build.
 * 2. Both packages are built and packed with `npm pack` into a temporary folder.
 * 3. Each tarball holds README.md, LICENSE and dist/, and no source, source map or test file: a map
 *    or a stack trace must not name a file that is not there, and test helpers are not API.
 * 4. publint (package.json against the packed files, warnings fail) and Are the Types Wrong (each
 *    entry's types under node16 and bundler resolution; ESM-only, so CommonJS `require` is out of scope).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { readPackages, root } from './packages.js';

const bin = (name: string) => join(root, 'node_modules/.bin', name);
const run = promisify(execFile);
const problems: string[] = [];

function checkSourcePaths(): void {
  const read = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile);
  const paths: Record<string, string[]> = read.config?.compilerOptions?.paths ?? {};
  const expected = new Map<string, string>();
  for (const pkg of readPackages()) {
    for (const entry of pkg.entries) {
      const target = `./${entry.dir}/${entry.source}`;
      expected.set(entry.specifier, target);
      if (!existsSync(join(root, target))) problems.push(`${entry.specifier}: its source ${target} does not exist`);
    }
  }
  for (const [specifier, target] of expected) {
    const actual = paths[specifier];
    if (actual?.length !== 1 || actual[0] !== target) {
      problems.push(`tsconfig.json paths: want "${specifier}": ["${target}"], have ${JSON.stringify(actual ?? null)}`);
    }
  }
  for (const specifier of Object.keys(paths)) {
    if (!expected.has(specifier)) problems.push(`tsconfig.json paths: "${specifier}" is not in any package's exports`);
  }
}

async function buildAndPack(into: string): Promise<{ name: string; filename: string; files: string[] }[]> {
  // The two builds are independent; tsc is the slow part of this check.
  await Promise.all(
    readPackages().map((pkg) =>
      run('npm', ['run', 'build', '-w', pkg.name], { cwd: root }).catch((error: { stdout?: string }) => {
        throw new Error(`npm run build -w ${pkg.name} failed:\n${error.stdout ?? error}`);
      }),
    ),
  );
  const workspaces = readPackages().flatMap((pkg) => ['-w', pkg.name]);
  const out = execFileSync('npm', ['pack', ...workspaces, '--pack-destination', into, '--json'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const packed = JSON.parse(out) as { name: string; filename: string; files: { path: string }[] }[];
  return packed.map((p) => ({ name: p.name, filename: join(into, p.filename), files: p.files.map((f) => f.path) }));
}

function checkContents(name: string, files: string[]): void {
  for (const required of ['package.json', 'README.md', 'LICENSE']) {
    if (!files.includes(required)) problems.push(`${name}: the tarball has no ${required}`);
  }
  for (const file of files) {
    if (['package.json', 'README.md', 'LICENSE'].includes(file)) continue;
    if (!file.startsWith('dist/')) problems.push(`${name}: ships ${file}, outside dist/`);
    else if (file.endsWith('.map')) problems.push(`${name}: ships the source map ${file}`);
    else if (file.startsWith('dist/test/') || /\.test\.[^/]+$/.test(file)) problems.push(`${name}: ships ${file}`);
  }
}

async function lint(name: string, tool: string, args: string[]): Promise<void> {
  try {
    await run(bin(tool), args, { cwd: root, encoding: 'utf8' });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    problems.push(`${name}: ${tool} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

checkSourcePaths();
const dir = mkdtempSync(join(tmpdir(), 'latchkey-pack-'));
try {
  const tarballs = await buildAndPack(dir).catch((error: Error) => {
    problems.push(error.message);
    return [];
  });
  for (const tarball of tarballs) checkContents(tarball.name, tarball.files);
  await Promise.all(
    tarballs.flatMap((tarball) => [
      lint(tarball.name, 'publint', ['run', tarball.filename, '--strict']),
      lint(tarball.name, 'attw', [
        tarball.filename,
        '--profile',
        'esm-only',
        '--no-definitely-typed',
        '--format',
        'ascii',
      ]),
    ]),
  );
  for (const tarball of tarballs) console.log(`${tarball.name}: ${tarball.files.length} files packed`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (problems.length > 0) {
  console.error(`check:packages found ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log('check:packages: paths, contents, publint and attw pass');
