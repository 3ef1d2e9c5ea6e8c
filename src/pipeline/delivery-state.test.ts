import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { currentState, newestOutcome, rankOf, stateRank, statusOfRank } from './delivery-state.js';
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

describe('stateRank', () => {
  it('ranks a delivery just matched lowest, pending, and reads each status back', () => {
    expect(stateRank(0, 'pending')).toBe(0);
    for (const status of ['pending', 'retrying', 'failed', 'succeeded'] as const) {
      for (const number of [0, 1, 2, 7]) expect(statusOfRank(stateRank(number, status))).toBe(status);
    }
  });

  it('ranks a later attempt above any state of an earlier one, and within one attempt holds back before its end', () => {
    expect(stateRank(2, 'pending')).toBeGreaterThan(stateRank(1, 'succeeded'));
    expect(stateRank(1, 'pending')).toBeGreaterThan(stateRank(0, 'pending'));
    expect(stateRank(3, 'pending')).toBeLessThan(stateRank(3, 'retrying'));
    expect(stateRank(3, 'retrying')).toBeLessThan(stateRank(3, 'failed'));
    expect(stateRank(3, 'failed')).toBeLessThan(stateRank(3, 'succeeded'));
  });

  /**
   * One delivery's outcomes as the dispatcher writes them, oldest first: per attempt number any
   * held-back records, then what the attempt ended in (or nothing yet); once the chain ended with
   * an attempt, perhaps replays, each the next number.
   */
  type Step = { heldBack: number; end: 'retrying' | 'succeeded' | 'failed' | 'failed-unsent' | 'in-flight' };
  const step = (ends: Array<Step['end']>) => fc.record({ heldBack: fc.nat(2), end: fc.constantFrom(...ends) });
  const life = fc
    .record({
      chain: fc.array(step(['retrying', 'succeeded', 'failed', 'failed-unsent', 'in-flight']), { minLength: 1, maxLength: 5 }),
      replays: fc.array(step(['succeeded', 'failed', 'in-flight']), { maxLength: 3 }),
    })
    .map(({ chain, replays }) => {
      const written: DeliveryOutcome[] = [];
      let made = 0;
      const write = (number: number, status: DeliveryOutcome['status']) => written.push(outcome(number, status, { id: `out_${written.length}`, recordedAt: at(written.length) }));
      /** Writes one attempt number's records; true once an attempt ended (made), false while in flight or ended unsent. */
      const attempt = ({ heldBack, end }: Step): boolean => {
        const number = made + 1;
        for (let i = 0; i < heldBack; i++) write(number, made > 0 ? 'retrying' : 'pending');
        if (end === 'in-flight') return false;
        write(number, end === 'failed-unsent' ? 'failed' : end);
        if (end === 'failed-unsent') return false;
        made = number;
        return true;
      };
      let ended = false;
      for (const s of chain) {
        if (!attempt(s)) return written;
        if (s.end !== 'retrying') {
          ended = true;
          break;
        }
      }
      if (ended) for (const s of replays) if (!attempt(s)) break;
      return written;
    });

  it('reads the same status as currentState after every write, whatever order the writes arrive in', () => {
    fc.assert(
      fc.property(life, (written) => {
        for (let n = 0; n <= written.length; n++) {
          // Order-free: the highest rank of the writes so far, taken newest first.
          const arrived = written.slice(0, n).reverse();
          const rank = Math.max(stateRank(0, 'pending'), ...arrived.map(rankOf));
          expect(statusOfRank(rank)).toBe(currentState(matched, arrived).status);
        }
      }),
      { numRuns: 500 },
    );
  });
});
