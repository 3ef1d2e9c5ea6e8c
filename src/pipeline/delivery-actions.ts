import { DomainError } from '../domain/errors.js';
import { TEST_EVENT_TYPE } from '../domain/event-types.js';
import { newEventId } from '../domain/ids.js';
import { eventDigest } from '../domain/event.js';
import { firstTask, newDelivery } from './matcher.js';
import type { DeliveryActions, DeliveryRecord, DeliveryTask, DeliveryWriter, DomainEvent, ReplayClaims, TaskQueue, WebhookRecord } from './ports.js';

/** What the API asks of the pipeline; every delivery it starts goes through the same dispatcher path. */
export class PipelineActions implements DeliveryActions {
  constructor(
    private readonly deliveries: DeliveryWriter,
    private readonly queue: TaskQueue,
    private readonly replays: ReplayClaims,
  ) {}

  publishEvent(event: DomainEvent): Promise<void> {
    return this.queue.publishEvent(event);
  }

  publishEvents(events: DomainEvent[]): Promise<Array<DomainError | null>> {
    return this.queue.publishEvents(events);
  }

  async retry(delivery: DeliveryRecord): Promise<DeliveryRecord> {
    if (delivery.status !== 'failed' && delivery.status !== 'succeeded') {
      throw new DomainError('failed_precondition', `delivery is ${delivery.status}: only failed or succeeded deliveries can be retried`);
    }
    // The next attempt's number, claimed once: concurrent replays of a delivery make one send,
    // and a later replay, once this attempt is recorded, gets the next number.
    const task = firstTask(delivery, { manual: true });
    if (!(await this.replays.claim(delivery.id, task.attempt))) {
      throw new DomainError('failed_precondition', 'a replay of this delivery is already in progress');
    }
    await this.enqueueClaimed([task]);
    return delivery;
  }

  async retryMany(deliveries: DeliveryRecord[]): Promise<{ queued: DeliveryRecord[]; skipped: DeliveryRecord[] }> {
    const replayable = deliveries.filter((d) => d.status === 'failed' || d.status === 'succeeded');
    const tasks = replayable.map((d) => firstTask(d, { manual: true, inline: false }));
    const claimed = tasks.length === 0 ? [] : await this.replays.claimMany(tasks.map((t) => ({ deliveryId: t.deliveryId, attempt: t.attempt })));
    const queued = replayable.filter((_, i) => claimed[i]);
    if (queued.length > 0) await this.enqueueClaimed(tasks.filter((_, i) => claimed[i]));
    const isQueued = new Set(queued.map((d) => d.id));
    return { queued, skipped: deliveries.filter((d) => !isQueued.has(d.id)) };
  }

  /** Queues tasks whose attempts are claimed; the claims are given back when Kafka does not take them. */
  private async enqueueClaimed(tasks: DeliveryTask[]): Promise<void> {
    try {
      await this.queue.enqueue(tasks);
    } catch (error) {
      await Promise.all(tasks.map((t) => this.replays.release(t.deliveryId, t.attempt).catch(() => {})));
      throw error;
    }
  }

  async sendTestEvent(webhook: WebhookRecord): Promise<DeliveryRecord> {
    const now = new Date();
    const event = {
      id: newEventId(),
      type: TEST_EVENT_TYPE,
      workspace: webhook.workspace,
      agent: null,
      createdAt: now,
      data: { message: 'Test event from Humiris Webhooks', webhook_id: webhook.id },
    };
    const delivery = newDelivery(event, webhook, now);
    await this.deliveries.insertPending([delivery], `api:${delivery.id}`, eventDigest(event));
    await this.queue.enqueue([firstTask(delivery)]);
    return delivery;
  }
}
