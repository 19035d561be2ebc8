/**
 * What an adopter gets: the packages packed with `npm pack` and installed from the tarballs into
 * a fresh project outside the workspace, with a copy of examples/ as its source. Nothing resolves
 * through the workspace's links, so CI runs exactly what the README and examples/ show.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = join(root, 'examples');

/** Runs a command; a failure carries its output, so a failing test shows what the tool said. */
const run = (cwd: string, command: string, args: string[]): string => {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: 'true' },
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${stdout}${stderr}`.slice(0, 4000));
  }
};

export interface Installed {
  dir: string;
  tarballs: string[];
  remove(): void;
}

export function installFromTarballs(): Installed {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-adopter-'));
  // Build, then pack: the tarballs hold dist/ as published.
  const packages = ['-w', 'latchkey', '-w', '@latchkey/client', '-w', '@latchkey/audit'];
  run(root, 'npm', ['run', 'build', ...packages]);
  run(root, 'npm', ['pack', ...packages, '--pack-destination', dir, '--silent']);
  const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  const server = tarballs.find((f) => /^latchkey-\d/.test(f));
  const client = tarballs.find((f) => f.startsWith('latchkey-client-'));
  const audit = tarballs.find((f) => f.startsWith('latchkey-audit-'));
  if (!server || !client || !audit) throw new Error(`npm pack made ${tarballs.join(', ')}`);

  cpSync(examples, dir, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|dist|test|data)$/.test(src) && !src.endsWith('vitest.config.ts'),
  });
  const manifest = JSON.parse(readFileSync(join(examples, 'package.json'), 'utf8'));
  manifest.dependencies.latchkey = `file:./${server}`;
  manifest.dependencies['@latchkey/client'] = `file:./${client}`;
  // The audit as a team adds it: a dev dependency, run as `npx latchkey audit`.
  manifest.devDependencies['@latchkey/audit'] = `file:./${audit}`;
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  // Install scripts are skipped: better-sqlite3 would compile for ~75 s. Its binary is taken from
  // the workspace's build of the same version for the same Node instead (checked below).
  run(dir, 'npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline']);
  const ours = join(root, 'node_modules/better-sqlite3');
  const theirs = join(dir, 'node_modules/better-sqlite3');
  const version = (d: string) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).version;
  if (version(ours) === version(theirs) && existsSync(join(ours, 'build/Release/better_sqlite3.node')))
    cpSync(join(ours, 'build'), join(theirs, 'build'), { recursive: true });
  else run(dir, 'npm', ['rebuild', 'better-sqlite3']);
  return { dir, tarballs, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export { run };
