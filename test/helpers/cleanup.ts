import { afterAll, onTestFinished } from 'vitest';

/** Clean-ups asked for outside a test (at file level or in a beforeAll), run once the file's tests are done. */
const afterFile: Array<() => unknown> = [];
// Registered as this module is imported, while the test file is collected: vitest never runs an
// afterAll registered later, inside a test or a beforeAll.
afterAll(async () => {
  for (const fn of afterFile.splice(0).reverse()) await fn();
});

/**
 * Runs `fn` when the current test ends if called inside one, else once the file's tests are done.
 * Either way, clean-ups run in reverse order: what was set up last is taken down first.
 */
export function cleanUp(fn: () => unknown): void {
  try {
    onTestFinished(async () => {
      await fn();
    });
  } catch {
    afterFile.push(fn);
  }
}
