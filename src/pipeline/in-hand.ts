import type { Logger } from '../log/logger.js';
import type { DeliveryTask, TaskQueue } from './ports.js';

/** What the matcher hands over: the tasks taken in hand, the rest left for the queue. */
export interface TasksInHand {
  /** `done` resolves once every task taken is sent and concluded; it rejects when one could be neither (see InHandDispatch). */
  take(tasks: DeliveryTask[]): { rest: DeliveryTask[]; done?: Promise<void> };
}

/** The dispatcher's side: one attempt of a task that has no Kafka record. */
export interface InHandDispatcher {
  dispatch(task: DeliveryTask, options: { inHand: boolean }): Promise<void>;
}

export interface InHandOptions {
  /** Whether this process's dispatcher reads the task's partition of the deliveries topic now. */
  owns(task: DeliveryTask): boolean;
  /** The dispatcher's send lanes: a webhook known to answer slowly goes through Kafka (a send in hand holds its event's commit). */
  lanes: { isSlowNow(workspace: string, webhookId: string): boolean };
  /** The dispatcher's task slots, shared with the tasks it reads from Kafka: a full process queues instead. */
  slots: { tryAcquire(): boolean; release(): void };
  logger: Logger;
}

/**
 * First attempts sent by the process that matched them, without a trip through the deliveries
 * topic, when its own dispatcher reads the partition their task would go to (so one webhook's
 * sends still share one process's send slots) and has a free slot. The event's Kafka record stays
 * uncommitted until they are concluded (bus/worker-consumer.ts, Held): after a crash the event is
 * matched again, and its deliveries without an outcome are queued again. Webhooks known to answer
 * slowly go through Kafka, so a hanging endpoint holds back its partition's commits only until it
 * is known slow. A task that could not be concluded in hand (the dispatcher stopping, a store read
 * failing before the send) is produced to Kafka like any other.
 */
export class InHandDispatch implements TasksInHand {
  /** By delivery id: an event matched again while its tasks are in hand waits for the same sends. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly dispatcher: InHandDispatcher,
    private readonly queue: Pick<TaskQueue, 'enqueue'>,
    private readonly options: InHandOptions,
  ) {}

  take(tasks: DeliveryTask[]): { rest: DeliveryTask[]; done?: Promise<void> } {
    const rest: DeliveryTask[] = [];
    const taken: Array<Promise<void>> = [];
    for (const task of tasks) {
      const running = this.running.get(task.deliveryId);
      if (running) {
        taken.push(running);
        continue;
      }
      if (!this.takes(task)) {
        rest.push(task);
        continue;
      }
      const run = this.run(task).finally(() => {
        this.running.delete(task.deliveryId);
        this.options.slots.release();
      });
      this.running.set(task.deliveryId, run);
      taken.push(run);
    }
    return taken.length === 0 ? { rest } : { rest, done: Promise.all(taken).then(() => {}) };
  }

  private takes(task: DeliveryTask): boolean {
    const { owns, lanes, slots } = this.options;
    return !lanes.isSlowNow(task.workspace, task.webhookId) && owns(task) && slots.tryAcquire();
  }

  private async run(task: DeliveryTask): Promise<void> {
    try {
      await this.dispatcher.dispatch(task, { inHand: true });
    } catch (error) {
      this.options.logger.warn({ err: error, deliveryId: task.deliveryId }, 'task not concluded in hand, queued through Kafka');
      await this.queue.enqueue([task]);
    }
  }
}
