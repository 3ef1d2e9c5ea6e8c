import { DomainError } from '../domain/errors.js';
import { TEST_EVENT_TYPE } from '../domain/event-types.js';
import { newEventId } from '../domain/ids.js';
import { eventDigest } from '../domain/event.js';
import { firstTask, newDelivery } from './matcher.js';
import type { DeliveryActions, DeliveryRecord, DeliveryWriter, DomainEvent, ReplayClaims, TaskQueue, WebhookRecord } from './ports.js';

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
    try {
      await this.queue.enqueue([task]);
    } catch (error) {
      await this.replays.release(delivery.id, task.attempt).catch(() => {});
      throw error;
    }
    return delivery;
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
