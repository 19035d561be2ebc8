import { defineProject } from 'vitest/config';

export default defineProject({
  // Workspace packages resolve to their sources through the root tsconfig.json's `paths`.
  resolve: { tsconfigPaths: true },
  test: {
    name: '@latchkey/audit',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    environment: 'node',
    // Each case drives Chromium through a site: allow a minute on a busy machine.
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
