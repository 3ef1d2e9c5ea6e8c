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
 */
export function decide(ok: boolean, attempt: number, schedule: RetrySchedule, failedAt: Date, manual = false): Decision {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a whole number from 1, got ${attempt}`);
  if (ok) return { kind: 'succeeded' };
  if (manual) return { kind: 'failed' };
  const step = schedule[attempt - 1];
  if (!step) return { kind: 'failed' };
  return { kind: 'retry', step: attempt - 1, retryLabel: step.label, dueAt: new Date(failedAt.getTime() + step.delayMs) };
}

/** Attempts a delivery gets before it is dead-lettered: the first plus one per step. */
export const maxAttempts = (schedule: RetrySchedule): number => schedule.length + 1;

/**
 * How long a disabled webhook's deliveries wait for it to be enabled again before they are
 * dead-lettered: as long as a whole retry chain takes.
 */
export const maxPauseMs = (schedule: RetrySchedule): number => schedule.reduce((sum, step) => sum + step.delayMs, 0);
