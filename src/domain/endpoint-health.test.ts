import { describe, expect, it } from 'vitest';
import { DISABLE_MIN_FAILURES, failingSince, healthyState, mergeHealth, sustainedFailure, withFailure, withReset, type HealthState } from './endpoint-health.js';

const S = 1_000;
const fail = (state: HealthState, n: number, at: number) => withFailure(state, { id: `dlv_${n}:1`, at }, 500, `status 500 (${n})`);
const streak = (count: number, from: number, every: number, start = healthyState()) =>
  Array.from({ length: count }, (_, n) => n).reduce((s, n) => fail(s, n, from + n * every), start);

describe('failure streak', () => {
  it('disables after 10 failed attempts spanning the window, not before', () => {
    const nine = streak(9, 1_000, 10 * S);
    expect(sustainedFailure(nine, 5 * S)).toBe(false);
    const ten = fail(nine, 9, 1_000 + 9 * 10 * S);
    expect(sustainedFailure(ten, 90 * S)).toBe(true);
    expect(sustainedFailure(ten, 90 * S + 1)).toBe(false);
  });

  it('needs the window even with many failures', () => {
    expect(sustainedFailure(streak(50, 0, 1), 5 * S)).toBe(false);
  });

  it('keeps the earliest failures, the count capped, and the latest failure', () => {
    const state = streak(25, 1_000, S);
    expect(state.failures).toHaveLength(DISABLE_MIN_FAILURES);
    expect(failingSince(state)).toBe(1_000);
    expect(state.lastFailureAt).toBe(1_000 + 24 * S);
    expect(state.lastError).toBe('status 500 (24)');
  });

  it('is ended by a success or an enable; later failures start a new one', () => {
    const reset = withReset(streak(12, 0, S), 20 * S);
    expect(reset).toEqual(healthyState(20 * S));
    const again = fail(reset, 99, 21 * S);
    expect(failingSince(again)).toBe(21 * S);
    expect(again.failures).toHaveLength(1);
  });

  it('counts an attempt recorded twice once', () => {
    const state = fail(fail(healthyState(), 1, 5), 1, 5);
    expect(state.failures).toHaveLength(1);
  });
});

describe('merging the views of several processes', () => {
  const a = streak(6, 0, S);
  const b = Array.from({ length: 6 }, (_, n) => n).reduce((s, n) => fail(s, 100 + n, 500 + n * S), healthyState());

  it('is the union of their failures, in any order, any number of times', () => {
    const ab = mergeHealth(a, b);
    expect(ab.failures).toHaveLength(DISABLE_MIN_FAILURES);
    expect(mergeHealth(b, a)).toEqual(ab);
    expect(mergeHealth(ab, a)).toEqual(ab);
    expect(mergeHealth(ab, ab)).toEqual(ab);
  });

  it('drops failures before a success another process saw', () => {
    const succeeded = withReset(healthyState(), 3_200);
    const merged = mergeHealth(a, succeeded);
    expect(failingSince(merged)).toBe(4 * S);
    expect(merged.failures).toHaveLength(2);
    expect(merged.resetAt).toBe(3_200);
  });
});
