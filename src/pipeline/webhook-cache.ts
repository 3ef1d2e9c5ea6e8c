import type { WebhookLookup, WebhookRecord } from './ports.js';

/**
 * Short-lived memory of webhook reads on the hot path. The TTL bounds how stale a
 * subscription change can be on any instance: well under the promised 1 s.
 */
export class CachedWebhookLookup implements WebhookLookup {
  private readonly matching = new Map<string, { at: number; value: Promise<WebhookRecord[]> }>();
  private readonly byId = new Map<string, { at: number; value: Promise<WebhookRecord | null> }>();

  constructor(
    private readonly inner: WebhookLookup,
    private readonly ttlMs = 500,
    private readonly now: () => number = Date.now,
  ) {}

  findMatching(workspace: string, eventType: string, agent: string | null): Promise<WebhookRecord[]> {
    return this.remember(this.matching, `${workspace}\u0000${eventType}\u0000${agent ?? ''}`, () =>
      this.inner.findMatching(workspace, eventType, agent),
    );
  }

  getById(id: string): Promise<WebhookRecord | null> {
    return this.remember(this.byId, id, () => this.inner.getById(id));
  }

  private remember<T>(cache: Map<string, { at: number; value: Promise<T> }>, key: string, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    if (cache.size > 50_000) cache.clear();
    const value = load();
    cache.set(key, { at: now, value });
    // A failed read is not remembered.
    value.catch(() => cache.get(key)?.value === value && cache.delete(key));
    return value;
  }
}
