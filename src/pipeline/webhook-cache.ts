import { mustReread, type MarkSeen } from '../domain/change-mark.js';
import { subscribes } from '../domain/matching.js';
import type { DeliveryTargets, Subscriptions, WebhookLookup, WebhookRecord } from './ports.js';

interface Snapshot {
  mark: MarkSeen;
  webhooks: WebhookRecord[];
  byId: Map<string, WebhookRecord>;
  checkedAt: number;
}

/**
 * Webhook reads on the hot path, from memory. A workspace's active webhooks are reloaded only
 * when its change mark moved or is settling, and the mark is checked at most every `freshnessMs`: that
 * bounds how late a subscription change is seen on any instance (well under the promised 1 s)
 * without a scan of the webhooks per event. A change this instance made itself (`changedAt`) is
 * read at once: an event accepted after its answer is matched against it.
 */
export class CachedWebhookLookup implements Subscriptions, DeliveryTargets {
  private readonly workspaces = new Map<string, Promise<Snapshot>>();
  /** Workspaces whose settling mark has a read planned for when it has stood its time. */
  private readonly settling = new Set<string>();

  constructor(
    private readonly inner: WebhookLookup,
    private readonly freshnessMs = 500,
    // Monotonic: only intervals are measured, and a wall clock set back or forward would stretch or cut them.
    private readonly now: () => number = () => performance.now(),
    private readonly later: (run: () => void, ms: number) => void = (run, ms) => void setTimeout(run, ms).unref(),
  ) {}

  async findMatching(workspace: string, eventType: string, agent: string | null, readAfter?: number): Promise<WebhookRecord[]> {
    const { webhooks } = await this.snapshot(workspace, readAfter);
    return webhooks.filter((webhook) => subscribes(webhook, eventType, agent));
  }

  /** An active webhook comes from memory, as fresh as matching; one that is not (disabled or deleted) is read. */
  async webhookFor(workspace: string, webhookId: string): Promise<WebhookRecord | null> {
    const { byId } = await this.snapshot(workspace);
    return byId.get(webhookId) ?? this.inner.getById(workspace, webhookId);
  }

  private snapshot(workspace: string, readAfter = -Infinity): Promise<Snapshot> {
    const cached = this.workspaces.get(workspace);
    // Read before the change or the time asked for (or in the same millisecond): it may not hold it.
    const readBeforeChange = (snapshot: Snapshot) => snapshot.checkedAt <= Math.max(this.inner.changedAt(workspace) ?? -Infinity, readAfter);
    const refresh = async (previous?: Snapshot): Promise<Snapshot> => {
      const checkedAt = this.now();
      const mark = await this.inner.changeMark(workspace);
      const { reread, seen } = mustReread(previous?.mark, mark, this.now());
      if (previous && !reread && !readBeforeChange(previous)) return { ...previous, checkedAt };
      const webhooks = await this.inner.listActive(workspace);
      if (!seen.settled) this.settleLater(workspace, seen.firstSeenAt + mark.settleMs);
      return { mark: seen, webhooks, byId: new Map(webhooks.map((w) => [w.id, w])), checkedAt };
    };
    const next = (cached ?? Promise.resolve(undefined)).then(
      (previous) => (previous && this.now() - previous.checkedAt < this.freshnessMs && !readBeforeChange(previous) ? previous : refresh(previous)),
      () => refresh(),
    );
    this.workspaces.set(workspace, next);
    // A failed read is not remembered.
    next.catch(() => this.workspaces.get(workspace) === next && this.workspaces.delete(workspace));
    return next;
  }

  /**
   * The read a settling mark still needs, one begun after `settledAt` (its `readAfter`), made then
   * rather than by the next event: a workspace's first events after a change (1,000 webhooks
   * created, say) do not wait for a read of all its webhooks. If an event read it first, this is
   * at most a check of the mark.
   */
  private settleLater(workspace: string, settledAt: number): void {
    if (this.settling.has(workspace)) return;
    this.settling.add(workspace);
    this.later(() => {
      this.settling.delete(workspace);
      this.snapshot(workspace, settledAt).catch(() => {}); // not remembered: the next event reads
    }, Math.max(0, settledAt - this.now()) + 1);
  }
}
