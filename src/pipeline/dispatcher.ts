import { setTimeout as sleep } from 'node:timers/promises';
import { newOutcomeId } from '../domain/ids.js';
import type { EndpointLanes } from './endpoint-lanes.js';
import { decide, type RetrySchedule } from '../domain/retry-policy.js';
import { activeSecrets, signatureHeader } from '../domain/signing.js';
import type { Logger } from '../log/logger.js';
import type {
  AttemptRecord,
  DeliveryOutcome,
  DeliveryTargets,
  DeliveryStatus,
  DeliveryTask,
  DeliveryWriter,
  Sender,
  TaskQueue,
  WebhookRecord,
} from './ports.js';

export interface DispatcherOptions {
  schedule: RetrySchedule;
  userAgent: string;
  logger: Logger;
  /** Sends per webhook: holds back the ones whose endpoint hangs. */
  lanes: EndpointLanes;
  now?: () => Date;
}

/** The headers of one attempt; the signature covers the exact body. */
export function deliveryHeaders(task: DeliveryTask, webhook: WebhookRecord, userAgent: string, now: Date): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': userAgent,
    'x-humiris-signature': signatureHeader(task.payload, activeSecrets(webhook.secrets, now), Math.floor(now.getTime() / 1000)),
    'x-humiris-event': task.eventType,
    'x-humiris-delivery': task.deliveryId,
    'x-humiris-webhook': task.webhookId,
    'x-humiris-attempt': String(task.attempt),
  };
}

/**
 * Makes one attempt of a task and moves it on: done, to the next retry topic, or to the
 * dead-letter topic. The send happens once; only the bookkeeping after it is repeated when
 * Kafka or MongoDB are away, so an outage never sends the same attempt twice.
 */
export class Dispatcher {
  private readonly now: () => Date;
  private stopping = false;

  constructor(
    private readonly webhooks: DeliveryTargets,
    private readonly sender: Sender,
    private readonly deliveries: DeliveryWriter,
    private readonly queue: TaskQueue,
    private readonly options: DispatcherOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  stop(): void {
    this.stopping = true;
  }

  async dispatch(task: DeliveryTask): Promise<void> {
    const webhook = await this.webhooks.webhookFor(task.workspace, task.webhookId);
    if (!webhook || webhook.status !== 'active') {
      const outcome = outcomeOf(task, 'failed', this.now());
      outcome.lastError = webhook ? 'webhook disabled' : 'webhook deleted';
      await this.persist(task, () => this.deliveries.recordOutcomes([outcome]));
      return;
    }

    const { lanes, schedule } = this.options;
    const lane = lanes.tryStart(task.webhookId);
    if (lane === null && schedule[0]) {
      // A slow endpoint already holds its share of send slots: the same attempt comes back after
      // the first retry delay instead of taking a slot every other webhook needs.
      const dueAt = this.now().getTime() + schedule[0].delayMs;
      await this.persist(task, () => this.queue.scheduleRetry(0, { ...task, dueAt }));
      return;
    }
    const startedAt = this.now();
    let result;
    try {
      result = await this.sender.send({
        url: webhook.url,
        body: task.payload,
        headers: deliveryHeaders(task, webhook, this.options.userAgent, startedAt),
      });
    } finally {
      if (lane !== null) lanes.finish(task.webhookId, lane);
    }
    const attempt: AttemptRecord = {
      number: task.attempt,
      startedAt,
      durationMs: Math.round(result.durationMs),
      responseStatus: result.status,
      responseBodyExcerpt: result.bodyExcerpt,
      error: result.error,
      manual: task.manual,
    };
    const finishedAt = this.now();
    const decision = decide(result.ok, task.attempt, schedule, finishedAt, task.manual);
    const attempts = [...task.attempts, attempt];
    const outcome = outcomeOf(task, 'failed', finishedAt);
    outcome.attempt = attempt;
    let forward: () => Promise<void> = async () => {};

    switch (decision.kind) {
      case 'succeeded':
        outcome.status = 'succeeded';
        break;
      case 'retry':
        outcome.status = 'retrying';
        outcome.nextAttemptAt = decision.dueAt;
        forward = () =>
          this.queue.scheduleRetry(decision.step, { ...task, attempt: task.attempt + 1, dueAt: decision.dueAt.getTime(), attempts });
        break;
      case 'failed':
        // A manual attempt never starts a new chain, and its delivery was dead-lettered already.
        if (!task.manual) forward = () => this.queue.deadLetter({ task, attempts, failedAt: finishedAt, lastError: result.error });
        break;
    }
    // Record first, then hand on: the next attempt (perhaps on another instance) starts only once
    // this outcome is stored. Each step is retried on its own, so a retry never repeats a step
    // that already succeeded, and the outcome's id makes a repeated write store it once.
    await this.persist(task, () => this.deliveries.recordOutcomes([outcome]));
    await this.persist(task, forward);
  }

  private async persist(task: DeliveryTask, write: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await write();
      } catch (error) {
        // Stopping: give up; the task stays uncommitted and is redelivered to the next owner.
        if (this.stopping) throw error;
        const delay = Math.min(200 * 2 ** attempt, 5_000);
        this.options.logger.warn({ err: error, deliveryId: task.deliveryId, retryInMs: delay }, 'could not record attempt, retrying');
        await sleep(delay);
      }
    }
  }
}

function outcomeOf(task: DeliveryTask, status: DeliveryStatus, recordedAt: Date): DeliveryOutcome {
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
