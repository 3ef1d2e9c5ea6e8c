import { newDeliveryId } from '../domain/ids.js';
import { eventPayload, type ValidEvent } from '../domain/event.js';
import { matchedDelivery } from './delivery-state.js';
import type { DeliveryRecord, DeliveryTask, DeliveryWriter, Subscriptions, TaskQueue, WebhookRecord } from './ports.js';

export function newDelivery(event: ValidEvent, webhook: WebhookRecord, now = new Date()): DeliveryRecord {
  return matchedDelivery({
    id: newDeliveryId(now.getTime()),
    workspace: event.workspace,
    webhookId: webhook.id,
    eventId: event.id,
    eventType: event.type,
    agent: event.agent,
    payload: eventPayload(event),
    createdAt: now,
  });
}

export function firstTask(delivery: DeliveryRecord, manual = false): DeliveryTask {
  return {
    deliveryId: delivery.id,
    webhookId: delivery.webhookId,
    workspace: delivery.workspace,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    agent: delivery.agent,
    payload: delivery.payload,
    attempt: delivery.attemptCount + 1,
    dueAt: 0,
    manual,
    attempts: delivery.attempts,
    createdAt: delivery.createdAt.getTime(),
  };
}

/** Turns an accepted event into one delivery, and one queued task, per matching webhook. */
export class Matcher {
  constructor(
    private readonly webhooks: Subscriptions,
    private readonly deliveries: DeliveryWriter,
    private readonly queue: TaskQueue,
  ) {}

  /**
   * Safe to repeat: the (webhook, event) pair is unique. `source` names the Kafka record the
   * event came from. Returns the tasks queued.
   */
  async match(event: ValidEvent, source: string): Promise<number> {
    const webhooks = await this.webhooks.findMatching(event.workspace, event.type, event.agent);
    if (webhooks.length === 0) return 0;
    const now = new Date();
    const fresh = webhooks.map((webhook) => newDelivery(event, webhook, now));
    const { existing } = await this.deliveries.insertPending(fresh, source);
    const known = new Set(existing.map((d) => d.webhookId));
    const tasks = [
      ...fresh.filter((d) => !known.has(d.webhookId)),
      // The same record again: an earlier run stored these but may have stopped before queueing
      // them, so queue them under their own ids. The same event id in another record is a duplicate.
      ...existing.filter((d) => d.source === source && d.status === 'pending'),
    ].map((d) => firstTask(d));
    await this.queue.enqueue(tasks);
    return tasks.length;
  }
}
