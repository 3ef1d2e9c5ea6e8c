import v8 from 'node:v8';

/**
 * How far V8 lets the old generation grow past what its last full collection kept, in percent
 * (`--heap-growing-percent`; 300 sets a limit of 4 times the live heap). Left to itself, V8 picks
 * the factor from how its last collections went, between 1.1 and 4: in some runs it settled near
 * 1.6, and the service, which promotes a few MB a second under load, then paused for a full
 * collection every 2-5 s, each delaying the events around it by 10-40 ms (README: Performance).
 * 300 holds it at V8's own upper end; the price is heap, as garbage waits longer for a collection.
 */
export const HEAP_GROWING_PERCENT = 300;

/** The V8 flag to set, or none when the process was started with its own (0 gives V8's rule back). */
export function heapGrowthFlag(execArgv: readonly string[]): string | undefined {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg))) return undefined;
  return `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

export function setHeapGrowth(execArgv: readonly string[] = process.execArgv): void {
  const flag = heapGrowthFlag(execArgv);
  if (flag) v8.setFlagsFromString(flag);
}
