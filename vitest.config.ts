import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests share one broker on a 2-core machine: a few files at a time is the sweet spot.
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
