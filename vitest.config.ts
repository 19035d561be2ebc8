import { defineConfig } from 'vitest/config';

// One run for the whole workspace. Workspace packages resolve to their TypeScript sources through
// the `@latchkey/source` export condition, so tests never need a build first.
export default defineConfig({
  test: {
    projects: ['packages/server', 'packages/client', 'apps/demo'],
  },
});
