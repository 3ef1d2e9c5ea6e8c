import { setTimeout as sleep } from 'node:timers/promises';
import type { EndpointLanes } from './endpoint-lanes.js';
import { outcomeOf } from './delivery-state.js';
import { decide, maxPauseMs, type RetrySchedule } from '../domain/retry-policy.js';
import { activeSecrets, signatureHeaders } from '../domain/signing.js';
import { traceHeaders } from '../domain/trace-context.js';
import { PropagatingTracing } from './trace-propagation.js';
import type { Logger } from '../log/logger.js';
import type { DeadLetter, DispatchObserver } from './ports.js';
import { noMetrics, type Metrics } from './metrics.js';
import type {
  AttemptRecord,
  DeliveryOutcome,
  DeliveryTargets,
  DeliveryStatus,
  DeliveryTask,
  DeliveryWriter,
  EventBodies,
  ResolvedTask,
  Sender,
  SendResult,
  SpanAttributes,
  TaskQueue,
  Tracing,
  WebhookRecord,
} from './ports.js';

export interface DispatcherOptions {
  schedule: RetrySchedule;
  userAgent: string;
  logger: Logger;
  /** Sends per webhook: holds back the ones whose endpoint hangs. */
  lanes: EndpointLanes;
  /** Told of every attempt and dead letter: failure streaks, auto-disable, operational events. */
  observer?: DispatchObserver;
  now?: () => Date;
  /** Spans of sends and store writes; receivers get the send span as their traceparent. */
  tracing?: Tracing;
  metrics?: Metrics;
}

/** The headers of one attempt; the signatures (of the webhook's scheme) cover the exact body. */
export function deliveryHeaders(task: ResolvedTask, webhook: WebhookRecord, userAgent: string, now: Date): Record<string, string> {
  const secrets = activeSecrets(webhook.secrets, now);
  const timestampSeconds = Math.floor(now.getTime() / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': userAgent,
    ...signatureHeaders(webhook.signatureScheme, { id: task.deliveryId, body: task.payload, secrets, timestampSeconds }),
    'x-humiris-event': task.eventType,
    'x-humiris-delivery': task.deliveryId,
    'x-humiris-webhook': task.webhookId,
    'x-humiris-attempt': String(task.attempt),
  };
}

/** Why a task ends failed when its event's body is no longer stored. */
export const BODY_GONE = "its event's body is no longer stored (removed after WEBHOOKS_RETENTION)";

/** Per webhook record (the cache keeps one object per version), so a fan-out parses each URL once, not per send. */
const serverAttributesOf = new WeakMap<WebhookRecord, SpanAttributes>();

/** Where a send goes, for its span: scheme, host and port only. */
function serverAttributes(webhook: WebhookRecord): SpanAttributes {
  let attributes = serverAttributesOf.get(webhook);
  if (!attributes) serverAttributesOf.set(webhook, (attributes = parseServer(webhook.url)));
  return attributes;
}

function parseServer(url: string): SpanAttributes {
  try {
    const { hostname, port, protocol } = new URL(url);
    return { 'server.address': hostname, 'server.port': Number(port) || (protocol === 'https:' ? 443 : 80), 'url.scheme': protocol.slice(0, -1) };
  } catch {
    return {};
  }
}

/**
 * Makes one attempt of a task and moves it on: done, to the next retry topic, or to the
 * dead-letter topic. The send happens once; only the bookkeeping after it is repeated when
 * Kafka or MongoDB are away, so an outage never sends the same attempt twice.
 */
export class Dispatcher {
  private readonly now: () => Date;
  private readonly metrics: Metrics;
  private readonly tracing: Tracing;
  private stopping = false;

  constructor(
    private readonly webhooks: DeliveryTargets,
    private readonly sender: Sender,
    private readonly deliveries: DeliveryWriter,
    private readonly queue: TaskQueue,
    private readonly bodies: EventBodies,
    private readonly options: DispatcherOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.tracing = options.tracing ?? new PropagatingTracing();
    this.metrics = options.metrics ?? noMetrics;
  }

  stop(): void {
    this.stopping = true;
  }

  /**
   * `inHand`: the task was handed over by this process's matcher and no Kafka record of it exists
   * (pipeline/in-hand.ts), so its next step is queued before its outcome is stored (see conclude).
   */
  async dispatch(task: DeliveryTask, { inHand = false } = {}): Promise<void> {
    const webhook = await this.webhooks.webhookFor(task.workspace, task.webhookId);
    if (!webhook) return this.endUnsent(task, 'webhook deleted', inHand);
    if (webhook.status !== 'active') return this.pause(task, inHand);

    const resolved = await this.withBody(task);
    if (!resolved) return this.endGone(task, inHand);

    const { lanes, schedule } = this.options;
    const admission = await lanes.admit(task.workspace, task.webhookId, schedule.length > 0);
    if ('deferred' in admission) {
      // Its webhook or workspace already holds its share of send slots: the same attempt comes back
      // after the first retry delay instead of taking a slot every other webhook needs.
      return this.holdBack(task, admission.deferred, { dueAt: this.now().getTime() + schedule[0]!.delayMs, pausedSince: undefined }, inHand);
    }
    let startedAt: Date;
    let result;
    try {
      startedAt = this.now();
      result = await this.send(resolved, webhook, startedAt);
    } finally {
      lanes.finish(admission.slot);
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
    await this.options.observer?.attempted(webhook, task, result, finishedAt);
    const decision = decide(result.ok, task.attempt, schedule, finishedAt, task.manual, result.retryAfterMs);
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
          this.queue.scheduleRetry(decision.step, { ...task, attempt: task.attempt + 1, dueAt: decision.dueAt.getTime(), attempts, heldBack: undefined, pausedSince: undefined });
        break;
      case 'failed':
        // A manual attempt never starts a new chain, and its delivery was dead-lettered already.
        if (!task.manual) forward = () => this.deadLetter({ task: resolved, attempts, failedAt: finishedAt, lastError: result.error });
        break;
    }
    this.metrics.deliveryOutcome(task.eventType, outcome.status);
    if (task.attempt === 1 && !task.manual) this.metrics.firstAttemptDelay((startedAt.getTime() - task.createdAt) / 1000);
    await this.conclude(task, outcome, forward, inHand);
  }

  /**
   * Stores an outcome and hands the task on. Each step is retried on its own, so a retry never
   * repeats a step that already succeeded, and the outcome's id makes a repeated write store it once.
   * A task read from Kafka records first, then hands on: the next attempt (perhaps on another
   * instance) starts only once this outcome is stored, and a crash between the two reads the task
   * again. A task in hand has no record to read again: the event it came from is matched again
   * instead, which queues only deliveries without an outcome. So it hands on first, and a stored
   * outcome always means its next step is queued.
   */
  private async conclude(task: DeliveryTask, outcome: DeliveryOutcome | null, forward: () => Promise<void>, inHand: boolean): Promise<void> {
    if (inHand) await this.persist(task, forward);
    if (outcome) await this.record(task, outcome);
    if (!inHand) await this.persist(task, forward);
  }

  /**
   * One POST, as a client span in the task's trace whose context the receiver gets as its
   * traceparent. Its attributes name the receiver's host, never the URL's path or query (they
   * can hold a token).
   */
  private send(task: ResolvedTask, webhook: WebhookRecord, startedAt: Date): Promise<SendResult> {
    const attributes = {
      'http.request.method': 'POST',
      ...serverAttributes(webhook),
      'humiris.delivery_id': task.deliveryId,
      'humiris.webhook_id': task.webhookId,
      'humiris.event_type': task.eventType,
      'humiris.attempt': task.attempt,
      'humiris.manual': task.manual,
    };
    return this.tracing.inSpan('send', { parent: task.trace, kind: 'client', attributes }, async (span) => {
      const headers = Object.assign(deliveryHeaders(task, webhook, this.options.userAgent, startedAt), traceHeaders(span.context));
      const result = await this.sender.send({ url: webhook.url, body: task.payload, headers });
      if (result.status > 0) span.setAttributes({ 'http.response.status_code': result.status });
      if (!result.ok) span.fail(result.error);
      return result;
    });
  }

  /** Stores an outcome, retried until it is (see persist), as a span in the task's trace. */
  private record(task: DeliveryTask, outcome: DeliveryOutcome): Promise<void> {
    const attributes = { 'humiris.delivery_id': task.deliveryId, 'humiris.status': outcome.status };
    return this.tracing.inSpan('store.record_outcome', { parent: task.trace, attributes }, () =>
      this.persist(task, () => this.deliveries.recordOutcomes([outcome])),
    );
  }

  /** The task with its body: carried, or read from the event's stored body; null when that is gone. */
  private async withBody(task: DeliveryTask): Promise<ResolvedTask | null> {
    if (task.payload !== null) return task as ResolvedTask;
    const payload = await this.bodies.bodyOf(task.workspace, task.eventId, task.deliveryId);
    return payload === null ? null : { ...task, payload };
  }

  /**
   * A body is stored before its tasks are queued, so one not found was removed with its hour
   * (WEBHOOKS_RETENTION shorter than the task's wait: a long retry chain, a long pause). Failing
   * the task again would hold its slot and its partition's commit for good; it ends failed
   * instead, without a dead letter, which would have no event to carry.
   */
  private async endGone(task: DeliveryTask, inHand: boolean): Promise<void> {
    this.options.logger.error({ deliveryId: task.deliveryId, eventId: task.eventId, attempt: task.attempt }, 'event body no longer stored: delivery ended failed');
    const outcome = outcomeOf(task, 'failed', this.now());
    outcome.lastError = BODY_GONE;
    this.metrics.deliveryOutcome(task.eventType, 'failed');
    await this.conclude(task, outcome, async () => {}, inHand);
  }

  /**
   * Not sent now: the same attempt comes back through the first retry topic when due, and the
   * delivery shows why in the meantime.
   */
  private async holdBack(task: DeliveryTask, reason: string, changes: Partial<DeliveryTask> & { dueAt: number }, inHand: boolean): Promise<void> {
    this.metrics.heldBack(reason);
    // Once per reason: a webhook disabled for a day comes back every first retry step, and an
    // outcome each time would grow the store by thousands of records per delivery.
    let outcome: DeliveryOutcome | null = null;
    if (task.heldBack !== reason) {
      outcome = outcomeOf(task, task.attempts.length > 0 ? 'retrying' : 'pending', this.now());
      outcome.nextAttemptAt = new Date(changes.dueAt);
      outcome.lastError = reason;
    }
    await this.conclude(task, outcome, () => this.queue.scheduleRetry(0, { ...task, ...changes, heldBack: reason }), inHand);
  }

  /** A disabled webhook's task waits for it to be enabled again, for as long as a retry chain takes. */
  private async pause(task: DeliveryTask, inHand: boolean): Promise<void> {
    const { schedule } = this.options;
    const now = this.now().getTime();
    const pausedSince = task.pausedSince ?? now;
    if (!schedule[0] || now - pausedSince >= maxPauseMs(schedule)) return this.endUnsent(task, 'webhook disabled', inHand);
    return this.holdBack(task, 'paused: webhook disabled', { dueAt: now + schedule[0].delayMs, pausedSince }, inHand);
  }

  /** Ends a delivery without another attempt: failed, and in the dead-letter topic with the reason. */
  private async endUnsent(task: DeliveryTask, reason: string, inHand: boolean): Promise<void> {
    const resolved = await this.withBody(task);
    if (!resolved) return this.endGone(task, inHand);
    const failedAt = this.now();
    const outcome = outcomeOf(task, 'failed', failedAt);
    outcome.lastError = reason;
    this.metrics.deliveryOutcome(task.eventType, 'failed');
    // A manual attempt's delivery was dead-lettered already.
    const forward = task.manual ? async () => {} : () => this.deadLetter({ task: resolved, attempts: task.attempts, failedAt, lastError: reason });
    await this.conclude(task, outcome, forward, inHand);
  }

  private async deadLetter(letter: DeadLetter): Promise<void> {
    await this.queue.deadLetter(letter);
    this.options.observer?.deadLettered(letter);
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
