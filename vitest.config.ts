import { defineConfig } from 'vitest/config';

// Lab tests build real kernel namespaces; two cores cannot run many at once without timeouts
// that have nothing to do with the code under test.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
