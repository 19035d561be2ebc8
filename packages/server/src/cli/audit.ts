/**
 * `latchkey audit <url> …`: the audit is a package of its own, `@latchkey/audit`, because it drives
 * a real Chromium (playwright-core) and scans with secretlint: a session library should not put a
 * browser driver into every app's install. This command forwards to it when it is installed, and
 * says how to install it when it is not.
 */

/** Where the audit writes: raw text (its report carries its own line ends). */
export interface AuditIo {
  out(text: string): void;
  err(text: string): void;
  color: boolean;
}

interface AuditModule {
  main(argv: readonly string[], io: AuditIo): Promise<number>;
}

const SPECIFIER = '@latchkey/audit';

/**
 * Runs `@latchkey/audit`'s CLI with `argv`; resolves to its exit code (2 when it is not installed).
 * `load` is for tests.
 */
export async function runAuditCommand(
  argv: readonly string[],
  io: AuditIo,
  load: () => Promise<unknown> = () => import(SPECIFIER),
): Promise<number> {
  let audit: AuditModule;
  try {
    audit = (await load()) as AuditModule;
  } catch (error) {
    const missing =
      (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' &&
      String((error as Error).message).includes(SPECIFIER);
    io.err(
      missing
        ? `latchkey audit: the audit is its own package (it drives a real Chromium): npm i -D ${SPECIFIER}, then run this again.\n`
        : `latchkey audit: ${SPECIFIER} failed to load: ${String(error).split('\n')[0]}\n`,
    );
    return 2;
  }
  return audit.main(argv, io);
}
