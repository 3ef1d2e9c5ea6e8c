import { setTimeout as sleep } from 'node:timers/promises';
import { eventDigest, eventPayload } from '../domain/event.js';
import type { OperationalEvent } from '../domain/operational-events.js';
import type { Logger } from '../log/logger.js';
import { firstTask, newDelivery } from './matcher.js';
import type { DeliveryWriter, OperationalTopic, Subscriptions, TaskQueue } from './ports.js';

export interface NoticeOptions {
  /**
   * false for a notice caused by a delivery of an operational event: it goes to the Kafka topic
   * only, so an operational webhook's own failures never feed operational webhooks (no loop).
   */
  toWebhooks: boolean;
}

const TRIES = 5;

/**
 * Writes operational events to the operational topic and delivers them, as deliveries like any
 * other (signed, retried, recorded), to the workspace's webhooks that subscribe to their type.
 * Never in the way of the attempt that caused one: failures are retried a few times in the
 * background, then logged.
 */
export class OperationalNotifier {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly topic: OperationalTopic,
    private readonly subscriptions: Subscriptions,
    private readonly deliveries: DeliveryWriter,
    private readonly queue: TaskQueue,
    private readonly logger: Logger,
  ) {}

  notify(event: OperationalEvent, options: NoticeOptions): void {
    const done = this.send(event, options).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /** Waits for the notices under way (stopping, and tests). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async send(event: OperationalEvent, { toWebhooks }: NoticeOptions): Promise<void> {
    await this.tried(event, 'write to the operational topic', () => this.topic.publishOperational(event));
    if (toWebhooks) await this.tried(event, 'deliver to operational webhooks', () => this.deliver(event));
  }

  /** Safe to repeat: the (webhook, event) pair is unique and the tasks are queued under the same ids. */
  private async deliver(event: OperationalEvent): Promise<void> {
    const webhooks = await this.subscriptions.findMatching(event.workspace, event.type, event.agent);
    if (webhooks.length === 0) return;
    const now = new Date();
    const payload = eventPayload(event);
    const fresh = webhooks.map((webhook) => newDelivery(event, webhook, now, payload));
    const { existing } = await this.deliveries.insertPending(fresh, `operational:${event.id}`, eventDigest(event));
    const known = new Set(existing.map((d) => d.webhookId));
    const pending = [...fresh.filter((d) => !known.has(d.webhookId)), ...existing.filter((d) => d.status === 'pending')];
    await this.queue.enqueue(pending.map((d) => firstTask(d)));
  }

  private async tried(event: OperationalEvent, what: string, work: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (attempt === TRIES) {
          this.logger.error({ err: error, eventId: event.id, type: event.type, webhookId: event.webhookId }, `could not ${what}`);
          return;
        }
        await sleep(250 * 2 ** attempt);
      }
    }
  }
}
