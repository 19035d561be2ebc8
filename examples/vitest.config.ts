import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'examples',
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    // Packing, installing from the tarballs and type-checking take a minute or two.
    hookTimeout: 600_000,
    expect: { poll: { timeout: 10_000, interval: 50 } },
  },
});
