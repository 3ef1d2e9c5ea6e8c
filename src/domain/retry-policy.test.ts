import { describe, expect, it } from 'vitest';
import { decide, maxAttempts, type RetryStep } from './retry-policy.js';

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const DEFAULT: RetryStep[] = [
  { label: '30s', delayMs: 30 * S },
  { label: '5m', delayMs: 5 * M },
  { label: '30m', delayMs: 30 * M },
  { label: '2h', delayMs: 2 * H },
  { label: '24h', delayMs: 24 * H },
];
const SHORT: RetryStep[] = [
  { label: '1s', delayMs: S },
  { label: '2s', delayMs: 2 * S },
];
const failedAt = new Date('2025-01-01T00:00:00.000Z');
const after = (ms: number) => new Date(failedAt.getTime() + ms);

describe('decide with the default schedule', () => {
  it.each([
    [1, { kind: 'retry', step: 0, retryLabel: '30s', dueAt: after(30 * S) }],
    [2, { kind: 'retry', step: 1, retryLabel: '5m', dueAt: after(5 * M) }],
    [3, { kind: 'retry', step: 2, retryLabel: '30m', dueAt: after(30 * M) }],
    [4, { kind: 'retry', step: 3, retryLabel: '2h', dueAt: after(2 * H) }],
    [5, { kind: 'retry', step: 4, retryLabel: '24h', dueAt: after(24 * H) }],
    [6, { kind: 'failed' }],
    [7, { kind: 'failed' }],
  ])('failed attempt %i → %o', (attempt, expected) => {
    expect(decide(false, attempt, DEFAULT, failedAt)).toEqual(expected);
  });

  it.each([1, 2, 3, 4, 5, 6])('successful attempt %i → succeeded', (attempt) => {
    expect(decide(true, attempt, DEFAULT, failedAt)).toEqual({ kind: 'succeeded' });
  });

  it('gives 6 attempts in all', () => {
    expect(maxAttempts(DEFAULT)).toBe(6);
  });
});

describe('decide with a short 1s,2s schedule', () => {
  it.each([
    [1, false, { kind: 'retry', step: 0, retryLabel: '1s', dueAt: after(S) }],
    [2, false, { kind: 'retry', step: 1, retryLabel: '2s', dueAt: after(2 * S) }],
    [3, false, { kind: 'failed' }],
    [3, true, { kind: 'succeeded' }],
  ])('attempt %i ok=%s → %o', (attempt, ok, expected) => {
    expect(decide(ok, attempt, SHORT, failedAt)).toEqual(expected);
  });

  it('with no steps the first failure is final', () => {
    expect(decide(false, 1, [], failedAt)).toEqual({ kind: 'failed' });
    expect(maxAttempts([])).toBe(1);
  });
});

describe('manual attempts', () => {
  it.each([1, 3, 6, 9])('attempt %i never starts a new chain', (attempt) => {
    expect(decide(false, attempt, DEFAULT, failedAt, true)).toEqual({ kind: 'failed' });
    expect(decide(true, attempt, DEFAULT, failedAt, true)).toEqual({ kind: 'succeeded' });
  });
});

describe('bad input', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses attempt %s', (attempt) => {
    expect(() => decide(false, attempt, DEFAULT, failedAt)).toThrow(RangeError);
  });
});

describe('Retry-After of a 429 or 503', () => {
  const SCHEDULE: RetryStep[] = [
    { label: '10s', delayMs: 10 * S },
    { label: '5m', delayMs: 5 * M },
    { label: '2h', delayMs: 2 * H },
  ];
  it.each([
    // attempt, asked (ms), due after (ms)
    [2, 60 * S, 60 * S], // shortens the 5m step to what was asked
    [3, 20 * M, 20 * M], // and the 2h step
    [2, 3 * H, 5 * M], // never later than the step
    [2, 0, 10 * S], // never earlier than the first step
    [2, 2 * S, 10 * S],
    [1, 60 * S, 10 * S], // the first step is both bounds
    [1, 0, 10 * S],
    [2, Number.NaN, 5 * M],
  ])('after failed attempt %i, Retry-After %i ms → due after %i ms', (attempt, asked, dueMs) => {
    const decision = decide(false, attempt, SCHEDULE, failedAt, false, asked);
    expect(decision).toEqual({ kind: 'retry', step: attempt - 1, retryLabel: SCHEDULE[attempt - 1]!.label, dueAt: after(dueMs) });
  });

  it('a step shorter than the first is its own floor', () => {
    const shrinking: RetryStep[] = [{ label: '1m', delayMs: M }, { label: '10s', delayMs: 10 * S }];
    expect(decide(false, 2, shrinking, failedAt, false, 0)).toMatchObject({ dueAt: after(10 * S) });
  });

  it('changes nothing about the end of the chain or manual attempts', () => {
    expect(decide(false, 4, SCHEDULE, failedAt, false, 5 * S)).toEqual({ kind: 'failed' });
    expect(decide(false, 1, SCHEDULE, failedAt, true, 5 * S)).toEqual({ kind: 'failed' });
    expect(decide(true, 1, SCHEDULE, failedAt, false, 5 * S)).toEqual({ kind: 'succeeded' });
  });
});
