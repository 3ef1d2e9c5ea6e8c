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
  /**
   * Slots beyond `slots` for workspaces with fewer than `perWorkspace` tasks in hand here. One
   * workspace's backlog can hold every shared slot, and another's first attempt would then wait
   * behind that backlog in the deliveries topic.
   */
  reserve?: { slots: number; perWorkspace: number };
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
  private readonly inHandOf = new Map<string, number>();
  private reserved = 0;

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
      const slot = this.slotFor(task);
      if (!slot) {
        rest.push(task);
        continue;
      }
      this.count(task.workspace, 1);
      const run = this.run(task).finally(() => {
        this.running.delete(task.deliveryId);
        this.count(task.workspace, -1);
        if (slot === 'reserved') this.reserved--;
        else this.options.slots.release();
      });
      this.running.set(task.deliveryId, run);
      taken.push(run);
    }
    return taken.length === 0 ? { rest } : { rest, done: Promise.all(taken).then(() => {}) };
  }

  private slotFor(task: DeliveryTask): 'shared' | 'reserved' | undefined {
    const { owns, lanes, slots, reserve } = this.options;
    if (lanes.isSlowNow(task.workspace, task.webhookId) || !owns(task)) return undefined;
    if (slots.tryAcquire()) return 'shared';
    if (!reserve || this.reserved >= reserve.slots || (this.inHandOf.get(task.workspace) ?? 0) >= reserve.perWorkspace) return undefined;
    this.reserved++;
    return 'reserved';
  }

  private count(workspace: string, change: number): void {
    const count = (this.inHandOf.get(workspace) ?? 0) + change;
    if (count === 0) this.inHandOf.delete(workspace);
    else this.inHandOf.set(workspace, count);
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
