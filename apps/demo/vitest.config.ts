import { defineProject } from 'vitest/config';

export default defineProject({
  // Workspace packages resolve to their sources through the root tsconfig.json's `paths`.
  resolve: { tsconfigPaths: true },
  test: {
    name: '@latchkey/demo',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Browser and process tests poll for what a page or a server does next; on a busy 2-core CI
    // machine a second (vitest's default) is not always enough.
    expect: { poll: { timeout: 10_000, interval: 50 } },
  },
});
