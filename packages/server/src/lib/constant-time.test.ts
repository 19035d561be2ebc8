import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from './constant-time.js';

describe('constantTimeEqual', () => {
  it('is true only for equal strings', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'xbc')).toBe(false);
    expect(constantTimeEqual('abc', 'ab')).toBe(false);
    expect(constantTimeEqual('ab', 'abc')).toBe(false);
    // Every single-character change of a digest is caught, whatever its position.
    const digest = 'q7xH0sE4lPz0ZkR3c3yQ1m8d2W5tY9vB6nJ4aK0uLfE';
    for (let i = 0; i < digest.length; i++) {
      const changed = digest.slice(0, i) + (digest[i] === 'A' ? 'B' : 'A') + digest.slice(i + 1);
      expect(constantTimeEqual(digest, changed)).toBe(false);
    }
  });
});
