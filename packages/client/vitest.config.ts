import { defineProject } from 'vitest/config';

export default defineProject({
  // Workspace packages resolve to their sources through the root tsconfig.json's `paths`.
  resolve: { tsconfigPaths: true },
  test: {
    name: '@latchkey/client',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    environment: 'node',
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
