/** One step of the retry chain: wait `delayMs` after a failure; `label` (e.g. `30s`) names its topic. */
export interface RetryStep {
  /** As configured, e.g. `30s`; names the step's retry topic. */
  label: string;
  delayMs: number;
}

/** What the decision needs of an attempt's result; the sender's result carries more. */
export interface AttemptOutcome {
  ok: boolean;
  /** 0 when no response arrived. */
  status: number;
  /** '' when ok. */
  error: string;
  /** A 429's or 503's Retry-After, as a wait in ms from the response; absent when none was understood. */
  retryAfterMs?: number;
}

export type RetrySchedule = readonly RetryStep[];

export type Decision =
  | { kind: 'succeeded' }
  /** `step` is the 0-based index into the schedule, i.e. which retry topic the task goes to. */
  | { kind: 'retry'; step: number; retryLabel: string; dueAt: Date }
  | { kind: 'failed' };

/**
 * What happens after attempt `attempt` (1-based) ended. The only place the chain can end:
 * attempt 1 is immediate, failed attempt n (1..schedule.length) goes to step n-1 due after its
 * delay, and a failure of attempt schedule.length+1 (or later) is final. A manual attempt never
 * starts a new chain.
 *
 * `retryAfterMs` is what a 429 or 503 asked for (its Retry-After header): the retry is due then,
 * but never later than the step's own delay and never earlier than the schedule's first step
 * (README: Retries and the dead-letter topic). It moves the due time only: the attempt still
 * takes its step, so a receiver that always asks for a quick retry cannot lengthen the chain.
 */
export function decide(ok: boolean, attempt: number, schedule: RetrySchedule, failedAt: Date, manual = false, retryAfterMs?: number): Decision {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a whole number from 1, got ${attempt}`);
  if (ok) return { kind: 'succeeded' };
  if (manual) return { kind: 'failed' };
  const step = schedule[attempt - 1];
  if (!step) return { kind: 'failed' };
  const delayMs = retryAfterMs === undefined ? step.delayMs : retryDelay(step.delayMs, schedule[0]!.delayMs, retryAfterMs);
  return { kind: 'retry', step: attempt - 1, retryLabel: step.label, dueAt: new Date(failedAt.getTime() + delayMs) };
}

/** A receiver's Retry-After within [the first step's delay, this step's delay]. */
function retryDelay(stepMs: number, firstStepMs: number, retryAfterMs: number): number {
  if (!Number.isFinite(retryAfterMs)) return stepMs;
  return Math.min(stepMs, Math.max(Math.min(firstStepMs, stepMs), retryAfterMs));
}

/** Attempts a delivery gets before it is dead-lettered: the first plus one per step. */
export const maxAttempts = (schedule: RetrySchedule): number => schedule.length + 1;

/**
 * How long a disabled webhook's deliveries wait for it to be enabled again before they are
 * dead-lettered: as long as a whole retry chain takes.
 */
export const maxPauseMs = (schedule: RetrySchedule): number => schedule.reduce((sum, step) => sum + step.delayMs, 0);
