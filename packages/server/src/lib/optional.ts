/**
 * Loads an optional peer dependency when a feature that needs it is set up, not when its module
 * is imported, so `latchkey/password`'s throttle works without argon2, and a missing package is a
 * `DependencyMissingError` that says what to install instead of a bare ERR_MODULE_NOT_FOUND.
 */
import { createRequire } from 'node:module';
import { DependencyMissingError } from '../errors.js';

const require = createRequire(import.meta.url);

/**
 * The module `specifier`, loaded synchronously (peers such as `@node-rs/argon2` are CommonJS).
 *
 * @example
 * const argon2 = requireOptional<typeof import('@node-rs/argon2')>('@node-rs/argon2', 'latchkey/password hashing');
 */
export function requireOptional<T>(specifier: string, feature: string): T {
  try {
    return require(specifier) as T;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const missing = code === 'MODULE_NOT_FOUND' && error instanceof Error && error.message.includes(`'${specifier}'`);
    const fix = missing
      ? `${feature} needs ${specifier}, which is not installed: npm i ${specifier}`
      : `${feature} needs ${specifier}, which is installed but failed to load (a native build for another platform?): reinstall it on this machine with npm i ${specifier}`;
    throw new DependencyMissingError(fix, { cause: error });
  }
}
