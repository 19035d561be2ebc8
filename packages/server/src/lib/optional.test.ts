import { describe, expect, it } from 'vitest';
import { DependencyMissingError } from '../errors.js';
import { requireOptional } from './optional.js';

describe('requireOptional', () => {
  it('loads an installed peer', () => {
    const argon2 = requireOptional<typeof import('@node-rs/argon2')>('@node-rs/argon2', 'latchkey/password hashing');
    expect(typeof argon2.hash).toBe('function');
  });

  it('a package that is not installed is DependencyMissingError saying what to install', () => {
    // A real resolution failure: no package of this name exists anywhere on the resolution path.
    const name = '@latchkey-test/not-installed';
    let error: unknown;
    try {
      requireOptional(name, 'latchkey/password hashing');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DependencyMissingError);
    expect((error as DependencyMissingError).code).toBe('DEPENDENCY_MISSING');
    expect((error as Error).message).toBe(
      `latchkey/password hashing needs ${name}, which is not installed: npm i ${name}`,
    );
    expect(((error as Error).cause as { code?: string }).code).toBe('MODULE_NOT_FOUND');
  });
});
