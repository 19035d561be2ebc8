/**
 * `latchkey-audit <url> [options]` (also `npx latchkey audit …` beside latchkey): runs the audit
 * and prints the report. Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
 * 2 the audit could not run (bad arguments, unreachable host, TLS error, a login step that threw,
 * the time limit). Never a stack trace: every failure is one line that says what to do.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type LoginStep, runAudit } from './audit.js';
import { AuditError } from './errors.js';
import { fails, formatText, toJson, toSarif } from './report.js';
import { SEVERITIES, type Severity } from './rules.js';

/** The `--help` text: every option and the exit codes. */
export const USAGE = `Usage: latchkey-audit <url> [options]

Drives a headless Chromium through the site and reports where a login is readable by scripts,
weak session cookies, missing security headers, third-party scripts without SRI, and what the
bundle leaks. Only the given host is crawled.

Options:
  --login <file.mjs>        a module whose default export logs in: async (page, { url }) => {}
  --storage-state <file>    start from a Playwright storage state (cookies, localStorage)
  --max-pages <n>           pages to visit at most (default 20)
  --timeout <seconds>       time limit of the whole audit (default 120)
  --json                    print JSON instead of the report
  --sarif <file>            also write SARIF 2.1.0 to <file> ("-" for standard output)
  --fail-on <severity>      exit 1 at or above: ${SEVERITIES.join(', ')} (default high)
  --chromium <path>         the Chromium to drive (default /usr/bin/chromium)
  -h, --help                this text

Exit codes: 0 passing, 1 findings at or above --fail-on, 2 the audit could not run.`;

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
}

async function loadLogin(file: string): Promise<LoginStep> {
  const path = resolve(file);
  if (!existsSync(path)) throw new AuditError('BAD_ARGUMENT', `--login: no file at ${path}`);
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (error) {
    throw new AuditError('LOGIN_FAILED', `--login: ${file} could not be loaded: ${String(error).split('\n')[0]}`);
  }
  if (typeof module.default !== 'function')
    throw new AuditError('BAD_ARGUMENT', `--login: ${file} must export default async function login(page, { url })`);
  return module.default as LoginStep;
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    let parsed: ReturnType<typeof parse>;
    try {
      parsed = parse(argv);
    } catch (error) {
      throw new AuditError('BAD_ARGUMENT', `${(error as Error).message.split('\n')[0]}\n\n${USAGE}`);
    }
    const { values, positionals } = parsed;
    if (values.help === true) {
      io.out(`${USAGE}\n`);
      return 0;
    }
    if (positionals.length !== 1) throw new AuditError('BAD_ARGUMENT', `give exactly one URL\n\n${USAGE}`);
    const failOn = (values['fail-on'] ?? 'high') as Severity;
    if (!SEVERITIES.includes(failOn))
      throw new AuditError(
        'BAD_ARGUMENT',
        `--fail-on takes one of ${SEVERITIES.join(', ')}, not "${String(failOn).slice(0, 40)}"`,
      );
    const number = (name: string, value: string | undefined) => {
      if (value === undefined) return undefined;
      const n = Number(value);
      if (!Number.isFinite(n) || n <= 0)
        throw new AuditError('BAD_ARGUMENT', `--${name} takes a number > 0, not "${value.slice(0, 40)}"`);
      return n;
    };
    if (values.login !== undefined && values['storage-state'] !== undefined)
      throw new AuditError('BAD_ARGUMENT', 'give --login or --storage-state, not both');
    if (values['storage-state'] !== undefined) {
      try {
        JSON.parse(readFileSync(values['storage-state'], 'utf8'));
      } catch {
        throw new AuditError('BAD_ARGUMENT', `--storage-state: ${values['storage-state']} is not a readable JSON file`);
      }
    }
    const maxPages = number('max-pages', values['max-pages']);
    const timeout = number('timeout', values.timeout);
    const result = await runAudit({
      url: positionals[0] as string,
      ...(values.login === undefined ? {} : { login: await loadLogin(values.login) }),
      ...(values['storage-state'] === undefined ? {} : { storageState: values['storage-state'] }),
      ...(maxPages === undefined ? {} : { maxPages: Math.floor(maxPages) }),
      ...(timeout === undefined ? {} : { timeout }),
      ...(values.chromium === undefined ? {} : { chromium: values.chromium }),
    });
    if (values.sarif !== undefined) {
      const sarif = `${JSON.stringify(toSarif(result), null, 2)}\n`;
      if (values.sarif === '-') io.out(sarif);
      else writeFileSync(values.sarif, sarif);
    }
    if (values.sarif !== '-')
      io.out(values.json === true ? toJson(result, failOn) : formatText(result, failOn, io.color));
    return fails(result, failOn) ? 1 : 0;
  } catch (error) {
    if (error instanceof AuditError) {
      io.err(`latchkey audit: ${error.message}\n`);
      return 2;
    }
    io.err(`latchkey audit: unexpected failure: ${String(error).split('\n')[0]}\n`);
    return 2;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      login: { type: 'string' },
      'storage-state': { type: 'string' },
      'max-pages': { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
      sarif: { type: 'string' },
      'fail-on': { type: 'string' },
      chromium: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
