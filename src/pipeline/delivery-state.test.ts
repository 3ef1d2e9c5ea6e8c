import { describe, expect, it } from 'vitest';
import { currentState, newestOutcome } from './delivery-state.js';
import type { AttemptRecord, DeliveryOutcome, DeliveryRecord } from './ports.js';

const created = new Date('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(created.getTime() + s * 1_000);

const matched: DeliveryRecord = {
  id: 'dlv_1',
  workspace: 'ws',
  webhookId: 'whk_1',
  eventId: 'evt_1',
  eventType: 'message.received',
  agent: null,
  status: 'pending',
  attemptCount: 0,
  nextAttemptAt: created,
  lastResponseStatus: 0,
  lastError: '',
  payload: '{}',
  attempts: [],
  createdAt: created,
  updatedAt: created,
};

const attempt = (number: number, responseStatus: number, error = ''): AttemptRecord => ({
  number,
  startedAt: at(number),
  durationMs: 5,
  responseStatus,
  responseBodyExcerpt: '',
  error,
  manual: false,
});

const outcome = (number: number, status: DeliveryOutcome['status'], rest: Partial<DeliveryOutcome> = {}): DeliveryOutcome => ({
  id: `out_${number}_${status}`,
  deliveryId: 'dlv_1',
  workspace: 'ws',
  webhookId: 'whk_1',
  eventId: 'evt_1',
  number,
  status,
  nextAttemptAt: null,
  recordedAt: at(number * 10),
  ...rest,
});

describe('currentState', () => {
  it('is the matched record while no outcome is stored', () => {
    expect(currentState(matched, [])).toEqual(matched);
  });

  it('takes status and due time from the newest outcome and keeps every attempt in order', () => {
    const retrying = outcome(1, 'retrying', { attempt: attempt(1, 500, 'HTTP 500'), nextAttemptAt: at(40) });
    const succeeded = outcome(2, 'succeeded', { attempt: attempt(2, 200) });
    const state = currentState(matched, [succeeded, retrying]);
    expect(state.status).toBe('succeeded');
    expect(state.nextAttemptAt).toBeNull();
    expect(state.attemptCount).toBe(2);
    expect(state.attempts.map((a) => a.responseStatus)).toEqual([500, 200]);
    expect(state.lastResponseStatus).toBe(200);
    expect(state.lastError).toBe('');
    expect(state.updatedAt).toEqual(succeeded.recordedAt);
  });

  it('lets a later attempt win even when its record carries an earlier clock (a skewed instance)', () => {
    const late = outcome(1, 'retrying', { attempt: attempt(1, 503, 'HTTP 503'), nextAttemptAt: at(40), recordedAt: at(100) });
    const newer = outcome(2, 'failed', { attempt: attempt(2, 0, 'timed out'), recordedAt: at(50) });
    const state = currentState(matched, [late, newer]);
    expect(state.status).toBe('failed');
    expect(state.lastError).toBe('timed out');
    expect(state.lastResponseStatus).toBe(0);
  });

  it('records why a delivery ended without an attempt', () => {
    const state = currentState(matched, [outcome(1, 'failed', { lastError: 'webhook deleted' })]);
    expect(state).toMatchObject({ status: 'failed', attemptCount: 0, lastError: 'webhook deleted', attempts: [] });
  });

  it('does not change the record it was given', () => {
    currentState(matched, [outcome(1, 'succeeded', { attempt: attempt(1, 200) })]);
    expect(matched.attempts).toEqual([]);
    expect(matched.status).toBe('pending');
  });
});

describe('newestOutcome', () => {
  it('picks the highest attempt, then the latest record, and nothing from an empty list', () => {
    const a = outcome(2, 'retrying', { recordedAt: at(5) });
    const b = outcome(2, 'succeeded', { recordedAt: at(6) });
    expect(newestOutcome([b, outcome(1, 'retrying'), a])).toBe(b);
    expect(newestOutcome([])).toBeUndefined();
  });
});
