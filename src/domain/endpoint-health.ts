/**
 * A webhook's failure streak: the failed attempts since its last successful one (or since it was
 * enabled), from which it is disabled after sustained failure (README: Operational events).
 * Pure, and merged by union, so the views of several dispatcher processes (and a restarted one's
 * stored view) combine in any order, any number of times, to the same streak.
 */

/** Failed attempts a streak needs before it can disable its webhook; no more are kept. */
export const DISABLE_MIN_FAILURES = 10;

export interface FailureMark {
  /** `<delivery id>:<attempt number>`: an attempt resent after a crash counts once. */
  id: string;
  /** When the attempt ended (epoch ms). */
  at: number;
}

export interface HealthState {
  /** The last success (or enable): failures before it are no part of the streak. */
  resetAt: number;
  /** The streak's earliest failures, oldest first, at most DISABLE_MIN_FAILURES. */
  failures: FailureMark[];
  /** The streak's latest failure: when it ended, and what it got. */
  lastFailureAt: number;
  lastResponseStatus: number;
  lastError: string;
}

export const healthyState = (resetAt = 0): HealthState => ({ resetAt, failures: [], lastFailureAt: 0, lastResponseStatus: 0, lastError: '' });

const byTime = (a: FailureMark, b: FailureMark) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function normalised(state: HealthState): HealthState {
  const seen = new Set<string>();
  const failures = state.failures
    .filter((f) => f.at > state.resetAt && !seen.has(f.id) && seen.add(f.id))
    .sort(byTime)
    .slice(0, DISABLE_MIN_FAILURES);
  if (failures.length === 0) return healthyState(state.resetAt);
  return { ...state, failures };
}

/** One view of the streak from two: the later reset, the union of failures after it, the latest failure. */
export function mergeHealth(a: HealthState, b: HealthState): HealthState {
  const latest = a.lastFailureAt >= b.lastFailureAt ? a : b;
  return normalised({
    resetAt: Math.max(a.resetAt, b.resetAt),
    failures: [...a.failures, ...b.failures],
    lastFailureAt: latest.lastFailureAt,
    lastResponseStatus: latest.lastResponseStatus,
    lastError: latest.lastError,
  });
}

export function withFailure(state: HealthState, mark: FailureMark, status: number, error: string): HealthState {
  return mergeHealth(state, { resetAt: 0, failures: [mark], lastFailureAt: mark.at, lastResponseStatus: status, lastError: error });
}

/** A success (or an enable) at `at` ends the streak. */
export const withReset = (state: HealthState, at: number): HealthState => mergeHealth(state, healthyState(at));

export const isFailing = (state: HealthState): boolean => state.failures.length > 0;

/** The first failed attempt of the streak, or null when there is none. */
export const failingSince = (state: HealthState): number | null => state.failures[0]?.at ?? null;

/**
 * Disabled after sustained failure: at least DISABLE_MIN_FAILURES failed attempts, and the latest
 * of them ended `disableAfterMs` or more after the first, with no success in between.
 */
export function sustainedFailure(state: HealthState, disableAfterMs: number): boolean {
  const first = failingSince(state);
  return first !== null && state.failures.length >= DISABLE_MIN_FAILURES && state.lastFailureAt - first >= disableAfterMs;
}

export function sameHealth(a: HealthState, b: HealthState): boolean {
  return (
    a.resetAt === b.resetAt &&
    a.lastFailureAt === b.lastFailureAt &&
    a.failures.length === b.failures.length &&
    a.failures.every((f, i) => f.id === b.failures[i]!.id && f.at === b.failures[i]!.at)
  );
}
