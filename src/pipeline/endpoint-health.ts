import {
  failingSince,
  healthyState,
  isFailing,
  mergeHealth,
  sameHealth,
  sustainedFailure,
  withFailure,
  withReset,
  type HealthState,
} from '../domain/endpoint-health.js';
import { newEventId } from '../domain/ids.js';
import { deliveryExhausted, isOperationalType, webhookDisabled, webhookRecovered } from '../domain/operational-events.js';
import type { Logger } from '../log/logger.js';
import { Batcher } from './batcher.js';
import type { OperationalNotifier } from './operational-notifier.js';
import type { DeadLetter, DeliveryTask, DispatchObserver, HealthStates, SendResult, WebhookDisabler, WebhookRecord } from './ports.js';

export interface EndpointHealthOptions {
  /** WEBHOOKS_DISABLE_AFTER: how long a streak of failed attempts must last to disable its webhook. */
  disableAfterMs: number;
  logger: Logger;
  /** Streaks are written this often, in one batch. */
  flushMs?: number;
  /** A streak is read back from the store at most this often, to take in other processes' attempts. */
  refreshMs?: number;
  now?: () => number;
}

export const GONE_REASON = 'endpoint answered 410 Gone';

interface Entry {
  webhookId: string;
  workspace: string;
  state: HealthState;
  /** What the store held when last read or written (null: no document). */
  stored: HealthState | null;
  readAt: number;
  touchedAt: number;
  /** Outcomes of this webhook apply one after another. */
  chain: Promise<void>;
}

/** Entries without a streak are forgotten after this long unused. */
const IDLE_MS = 60_000;
/**
 * Reads of stored streaks wait this long to share one store read: a fan-out to 1,000 webhooks
 * otherwise reads 1,000 times. No send waits on them (outcomes apply after the attempt).
 */
const READ_GATHER_MS = 20;

/**
 * Failure streaks per webhook, kept in memory by each dispatcher process and written in small
 * batches (one document per failing webhook), never once per attempt. Each process merges what
 * the store holds into its own view when it first sees a webhook and every `refreshMs` after,
 * so processes sharing the work, and a restarted one, agree on a streak (domain/endpoint-health.ts).
 * Disables a webhook after sustained failure or a 410, and tells of it, of recoveries and of dead
 * letters through the operational notifier.
 */
export class EndpointHealth implements DispatchObserver {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly reads: Batcher<string, HealthState | null>;

  constructor(
    private readonly store: HealthStates,
    private readonly webhooks: WebhookDisabler,
    private readonly notifier: OperationalNotifier,
    private readonly options: EndpointHealthOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.reads = new Batcher(
      async (ids) => {
        const stored = await store.load([...new Set(ids)]);
        return ids.map((id) => stored.get(id) ?? null);
      },
      { maxItems: 500, maxDelayMs: READ_GATHER_MS },
    );
    this.timer = setInterval(() => void this.flush(), options.flushMs ?? 1_000);
    this.timer.unref();
  }

  async attempted(webhook: WebhookRecord, task: DeliveryTask, result: SendResult, finishedAt: Date): Promise<void> {
    // An operational webhook's own troubles reach the topic only, never operational webhooks.
    const toWebhooks = !isOperationalType(task.eventType);
    if (result.status === 410) {
      await this.disable(webhook, GONE_REASON, finishedAt, { failingSince: null, failedAttempts: 1, lastResponseStatus: 410, lastError: result.error }, toWebhooks);
    }
    const entry = this.entryOf(webhook);
    entry.chain = entry.chain
      .then(() => this.apply(entry, webhook, task, result, finishedAt.getTime(), toWebhooks))
      .catch((error) => this.options.logger.warn({ err: error, webhookId: webhook.id }, 'could not track the webhook\'s failures'));
  }

  deadLettered(letter: DeadLetter): void {
    const { task } = letter;
    const event = deliveryExhausted(
      { id: newEventId(), workspace: task.workspace, webhookId: task.webhookId, createdAt: new Date(this.now()) },
      { deliveryId: task.deliveryId, eventId: task.eventId, eventType: task.eventType, attemptCount: letter.attempts.length, lastError: letter.lastError, failedAt: letter.failedAt },
    );
    this.notifier.notify({ ...event, agent: task.agent }, { toWebhooks: !isOperationalType(task.eventType) });
  }

  /** Writes what is pending and stops the batch timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.entries.values()].map((e) => e.chain));
    await this.flush();
    await this.notifier.drain();
  }

  private entryOf(webhook: WebhookRecord): Entry {
    let entry = this.entries.get(webhook.id);
    if (!entry) {
      entry = { webhookId: webhook.id, workspace: webhook.workspace, state: healthyState(), stored: null, readAt: 0, touchedAt: 0, chain: Promise.resolve() };
      this.entries.set(webhook.id, entry);
    }
    entry.touchedAt = this.now();
    return entry;
  }

  private async apply(entry: Entry, webhook: WebhookRecord, task: DeliveryTask, result: SendResult, at: number, toWebhooks: boolean): Promise<void> {
    if (this.now() - entry.readAt >= (this.options.refreshMs ?? 10_000)) {
      const [stored = null] = await this.reads.submit(entry.webhookId);
      entry.stored = stored;
      entry.readAt = this.now();
      if (stored) entry.state = mergeHealth(entry.state, stored);
    }
    // Failures before the webhook was last enabled are forgiven.
    const enabledAt = webhook.enabledAt?.getTime() ?? 0;
    if (enabledAt > entry.state.resetAt) entry.state = withReset(entry.state, enabledAt);

    if (result.ok) {
      const ended = entry.state;
      if (!isFailing(ended)) return;
      entry.state = withReset(ended, at);
      const event = webhookRecovered(
        { id: newEventId(), workspace: webhook.workspace, webhookId: webhook.id, createdAt: new Date(this.now()) },
        { url: webhook.url, recoveredAt: new Date(at), failingSince: new Date(failingSince(ended)!), failedAttempts: ended.failures.length },
      );
      this.notifier.notify(event, { toWebhooks });
      return;
    }
    entry.state = withFailure(entry.state, { id: `${task.deliveryId}:${task.attempt}`, at }, result.status, result.error);
    if (webhook.status === 'active' && sustainedFailure(entry.state, this.options.disableAfterMs)) {
      const { state } = entry;
      const since = new Date(failingSince(state)!);
      const reason = `every attempt failed since ${since.toISOString()} (${state.failures.length} or more failed attempts; last: ${state.lastError})`;
      await this.disable(webhook, reason, new Date(at), { failingSince: since, failedAttempts: state.failures.length, lastResponseStatus: state.lastResponseStatus, lastError: state.lastError }, toWebhooks);
    }
  }

  private async disable(
    webhook: WebhookRecord,
    reason: string,
    at: Date,
    facts: { failingSince: Date | null; failedAttempts: number; lastResponseStatus: number; lastError: string },
    toWebhooks: boolean,
  ): Promise<void> {
    // Only the process whose write found it active tells of it.
    const disabled = await this.webhooks.disableFor(webhook.workspace, webhook.id, reason, at);
    if (!disabled) return;
    this.options.logger.warn({ webhookId: webhook.id, workspace: webhook.workspace, reason }, 'webhook disabled');
    const event = webhookDisabled(
      { id: newEventId(), workspace: webhook.workspace, webhookId: webhook.id, createdAt: new Date(this.now()) },
      { url: webhook.url, reason, disabledAt: at, ...facts },
    );
    this.notifier.notify(event, { toWebhooks });
  }

  /** One batch: every streak that changed since it was last read or written; a streak that ended removes its document. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const now = this.now();
      const changed: Array<{ entry: Entry; state: HealthState }> = [];
      for (const entry of this.entries.values()) {
        const { state, stored } = entry;
        const unchanged = stored ? sameHealth(state, stored) : !isFailing(state);
        if (!unchanged) changed.push({ entry, state });
        else if (!isFailing(state) && now - entry.touchedAt >= IDLE_MS) this.entries.delete(entry.webhookId);
      }
      if (changed.length === 0) return;
      try {
        await this.store.save(changed.map(({ entry, state }) => ({ webhookId: entry.webhookId, workspace: entry.workspace, state: isFailing(state) ? state : null })));
        for (const { entry, state } of changed) entry.stored = isFailing(state) ? state : null;
      } catch (error) {
        this.options.logger.warn({ err: error, webhooks: changed.length }, 'could not write failure streaks; trying again');
      }
    });
    return this.flushing;
  }
}
