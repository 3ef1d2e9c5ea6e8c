import { newOutcomeId } from '../domain/ids.js';
import type { DeliveryOutcome, DeliveryRecord, DeliveryStatus, DeliveryTask } from './ports.js';

/** What a delivery is before any outcome: pending, due at once, no attempts. */
export function matchedDelivery(
  fields: Pick<DeliveryRecord, 'id' | 'workspace' | 'webhookId' | 'eventId' | 'eventType' | 'agent' | 'payload' | 'createdAt'>,
): DeliveryRecord {
  return {
    ...fields,
    status: 'pending',
    attemptCount: 0,
    nextAttemptAt: fields.createdAt,
    lastResponseStatus: 0,
    lastError: '',
    attempts: [],
    updatedAt: fields.createdAt,
  };
}

/** Oldest first: a later attempt's outcome is newer; within one attempt, the later record. */
export function outcomeOrder(a: DeliveryOutcome, b: DeliveryOutcome): number {
  return a.number - b.number || a.recordedAt.getTime() - b.recordedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** The newest of one delivery's outcomes, or undefined when it has none yet. */
export function newestOutcome<T extends DeliveryOutcome>(outcomes: T[]): T | undefined {
  let newest: T | undefined;
  for (const outcome of outcomes) if (!newest || outcomeOrder(newest, outcome) < 0) newest = outcome;
  return newest;
}

/**
 * A delivery as it stands: its record as matched, folded with every outcome stored since.
 * Outcomes are never changed, so a late write from a slow instance cannot hide a newer one.
 */
export function currentState(delivery: DeliveryRecord, outcomes: DeliveryOutcome[]): DeliveryRecord {
  const state: DeliveryRecord = { ...delivery, attempts: [...delivery.attempts] };
  for (const outcome of [...outcomes].sort(outcomeOrder)) {
    state.status = outcome.status;
    state.nextAttemptAt = outcome.nextAttemptAt;
    state.updatedAt = outcome.recordedAt;
    if (outcome.attempt) {
      state.attempts.push(outcome.attempt);
      state.lastResponseStatus = outcome.attempt.responseStatus;
      state.lastError = outcome.attempt.error;
    }
    if (outcome.lastError !== undefined) state.lastError = outcome.lastError;
  }
  state.attemptCount = state.attempts.length;
  return state;
}

/** A new outcome of the attempt `task` stands for; the caller adds the attempt or the reason. */
export function outcomeOf(task: Pick<DeliveryTask, 'deliveryId' | 'workspace' | 'webhookId' | 'eventId' | 'attempt'>, status: DeliveryStatus, recordedAt: Date): DeliveryOutcome {
  return {
    id: newOutcomeId(),
    deliveryId: task.deliveryId,
    workspace: task.workspace,
    webhookId: task.webhookId,
    eventId: task.eventId,
    number: task.attempt,
    status,
    nextAttemptAt: null,
    recordedAt,
  };
}
