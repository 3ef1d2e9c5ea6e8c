import { defineConfig } from 'vitest/config';

/** `npm run chaos`: the larger fault scenarios, one after another, printing the ledger of each. */
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['chaos/run.ts'],
    fileParallelism: false,
    testTimeout: 30 * 60_000,
    hookTimeout: 10 * 60_000,
    pool: 'forks',
  },
});
