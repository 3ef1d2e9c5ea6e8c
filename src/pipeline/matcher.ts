import { newDeliveryId } from '../domain/ids.js';
import { eventDigest, eventPayload, type ValidEvent } from '../domain/event.js';
import { DomainError } from '../domain/errors.js';
import { matchedDelivery, outcomeOf } from './delivery-state.js';
import type { DeliveryRecord, DeliveryTask, DeliveryWriter, DomainEvent, Subscriptions, TaskQueue, TraceSpan, Tracing, WebhookRecord } from './ports.js';
import { PropagatingTracing } from './trace-propagation.js';
import type { TasksInHand } from './in-hand.js';
import type { TraceContext } from '../domain/trace-context.js';

/**
 * Past this many body bytes for one event's tasks together, the tasks carry ids only and the
 * dispatcher reads the body once from the store: a 1 MiB event to 10,000 webhooks would
 * otherwise be 10 GiB through Kafka.
 */
export const INLINE_FANOUT_BYTES = 512 * 1024;

/** `payload` is the event's rendered body: render it once and share it among an event's deliveries. */
export function newDelivery(event: ValidEvent, webhook: WebhookRecord, now = new Date(), payload = eventPayload(event)): DeliveryRecord {
  return matchedDelivery({
    id: newDeliveryId(now.getTime()),
    workspace: event.workspace,
    webhookId: webhook.id,
    eventId: event.id,
    eventType: event.type,
    agent: event.agent,
    payload,
    createdAt: now,
  });
}

/** How old a record's write time may be and still date its deliveries: a record matched again after a crash is well within it. */
export const RECORD_TIME_WINDOW_MS = 60 * 60 * 1000;
/** How far ahead of this clock a record's write time may be (another machine's clock). */
const CLOCK_SKEW_MS = 60 * 1000;

/**
 * When an event's deliveries are created: the time its Kafka record was written, so that a record
 * matched again (a process died before committing its offset) lands in the same hour's collections,
 * where its deliveries are found and kept with their ids. A time outside a plausible window (a
 * producer's clock, a backlog older than an hour) gives way to now.
 */
export function deliveryTime(writtenAt: number | undefined, now: number): number {
  if (writtenAt === undefined || !Number.isFinite(writtenAt)) return now;
  return writtenAt >= now - RECORD_TIME_WINDOW_MS && writtenAt <= now + CLOCK_SKEW_MS ? writtenAt : now;
}

export function firstTask(delivery: DeliveryRecord, { manual = false, inline = true, trace }: { manual?: boolean; inline?: boolean; trace?: TraceContext } = {}): DeliveryTask {
  const task: DeliveryTask = {
    deliveryId: delivery.id,
    webhookId: delivery.webhookId,
    workspace: delivery.workspace,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    agent: delivery.agent,
    payload: inline ? delivery.payload : null,
    attempt: delivery.attemptCount + 1,
    dueAt: 0,
    manual,
    attempts: delivery.attempts,
    createdAt: delivery.createdAt.getTime(),
  };
  // Added, not spread into a copy: see matchedDelivery.
  if (trace) task.trace = trace;
  return task;
}

interface Queued {
  queued: number;
  refused?: string;
  held?: Promise<void>;
}

export interface MatchResult {
  queued: number;
  /** The source of an earlier record of the same event: this one is a duplicate. */
  duplicateOf?: string;
  /** The source of another event that has this id in the workspace: this one was not accepted. */
  conflictWith?: string;
  /** Why Kafka refused this event's tasks for good: its deliveries ended failed. */
  refused?: string;
  /** Tasks taken in hand still running: the event's record is committed once this resolves. */
  held?: Promise<void>;
}

/** Turns an accepted event into one delivery, and one queued task, per matching webhook. */
export class Matcher {
  constructor(
    private readonly webhooks: Subscriptions,
    private readonly deliveries: DeliveryWriter,
    private readonly queue: TaskQueue,
    private readonly tracing: Tracing = new PropagatingTracing(),
    private readonly now: () => number = Date.now,
    private readonly inHand?: TasksInHand,
  ) {}

  /**
   * Safe to repeat: the (webhook, event) pair is unique. `source` names the Kafka record the event
   * came from, `writtenAt` when it was written (see deliveryTime). A span in the event's trace (or
   * a new one); its tasks carry it to every attempt. `readAfter` as in Subscriptions.findMatching.
   */
  match(event: DomainEvent, source: string, writtenAt?: number, readAfter?: number): Promise<MatchResult> {
    const attributes = { 'humiris.event_id': event.id, 'humiris.event_type': event.type, 'humiris.source': source };
    return this.tracing.inSpan('match', { parent: event.trace, attributes }, async (span) => {
      const result = await this.matchIn(span, event, source, new Date(deliveryTime(writtenAt, this.now())), readAfter);
      span.setAttributes({ 'humiris.deliveries_queued': result.queued });
      return result;
    });
  }

  private async matchIn(span: TraceSpan, event: ValidEvent, source: string, now: Date, readAfter?: number): Promise<MatchResult> {
    const webhooks = await this.webhooks.findMatching(event.workspace, event.type, event.agent, readAfter);
    if (webhooks.length === 0) return { queued: 0 };
    // One body for all: a 1 MiB event rendered once per webhook would be 10 GiB at 10,000 webhooks.
    const payload = eventPayload(event);
    const inlineFor = (count: number) => Buffer.byteLength(payload) * count <= INLINE_FANOUT_BYTES;
    const fresh = webhooks.map((webhook) => newDelivery(event, webhook, now, payload));
    const toTasks = (records: DeliveryRecord[], inline: boolean) => records.map((d) => firstTask(d, { inline, trace: span.context }));
    // Parts of a large fan-out are queued as they land, while the rest is still being written.
    const queuing: Array<Promise<Queued>> = [];
    const queue = (tasks: DeliveryTask[]) => {
      const queued = this.enqueue(tasks);
      queued.catch(() => {}); // looked at below, once every part is written
      queuing.push(queued);
    };
    const handedOn = new Set<string>();
    const { existing, conflictWith, duplicateOf: firstRecord } = await this.tracing.inSpan('store.insert_deliveries', { parent: span.context, attributes: { 'humiris.deliveries': fresh.length } }, () =>
      this.deliveries.insertPending(fresh, source, eventDigest(event), (part) => {
        for (const d of part) handedOn.add(d.webhookId);
        queue(toTasks(part, inlineFor(fresh.length)));
      }),
    );
    // A conflict shows in the first part, before any part is handed on: nothing was queued.
    if (conflictWith !== undefined) return { queued: 0, conflictWith };
    if (firstRecord !== undefined) return { queued: 0, duplicateOf: firstRecord };
    const known = new Set(existing.map((d) => d.webhookId));
    const pending = [
      ...fresh.filter((d) => !known.has(d.webhookId) && !handedOn.has(d.webhookId)),
      // The same record again: an earlier run stored these but may have stopped before queueing
      // them, so queue them under their own ids. The same event id in another record is a duplicate.
      ...existing.filter((d) => d.source === source && d.status === 'pending'),
    ];
    if (pending.length > 0) queue(toTasks(pending, inlineFor(pending.length)));
    const { queued, refused, held } = await this.settle(queuing);
    const result: MatchResult = held ? { queued, held } : { queued };
    if (refused !== undefined) return { ...result, refused };
    const duplicateOf = existing.find((d) => d.source !== source)?.source;
    return duplicateOf === undefined ? result : { ...result, duplicateOf };
  }

  /** Every part's queueing, once all ended; the first that failed is thrown. */
  private async settle(queuing: Array<Promise<Queued>>): Promise<Queued> {
    const settled = await Promise.allSettled(queuing);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const done = settled.map((r) => (r as PromiseFulfilledResult<Queued>).value);
    const held = done.flatMap((d) => (d.held ? [d.held] : []));
    return {
      queued: done.reduce((sum, d) => sum + d.queued, 0),
      refused: done.find((d) => d.refused !== undefined)?.refused,
      held: held.length > 0 ? Promise.all(held).then(() => {}) : undefined,
    };
  }

  /**
   * Hands tasks to this process's dispatcher where it can take them (in-hand.ts) and queues the
   * rest; those Kafka will never take end failed, with the reason, instead of pending forever.
   */
  private async enqueue(tasks: DeliveryTask[]): Promise<Queued> {
    const { rest, done: held } = this.inHand?.take(tasks) ?? { rest: tasks };
    held?.catch(() => {}); // the consumer looks at it, once the match returns
    const inHand = tasks.length - rest.length;
    try {
      await this.queue.enqueue(rest);
      return { queued: tasks.length, held };
    } catch (error) {
      if (!(error instanceof DomainError) || error.retryable) throw error;
      const failedAt = new Date();
      await this.deliveries.recordOutcomes(rest.map((task) => ({ ...outcomeOf(task, 'failed', failedAt), lastError: `could not be queued: ${error.message}` })));
      return { queued: inHand, refused: error.message, held };
    }
  }
}
