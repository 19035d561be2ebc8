import { defineConfig } from 'vitest/config';

// One run for the whole workspace. Each project resolves the workspace packages to their TypeScript
// sources through the root tsconfig.json's `paths` (resolve.tsconfigPaths), so tests never need a build.
export default defineConfig({
  test: {
    projects: ['packages/server', 'packages/client', 'packages/audit', 'apps/demo', 'examples'],
  },
});
