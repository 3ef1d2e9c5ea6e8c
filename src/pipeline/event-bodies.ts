import type { EventBodies } from './ports.js';

/**
 * Bodies of tasks that do not carry theirs, read from the store once per process: the thousands
 * of tasks of one large fan-out share one read, and the bodies stay in memory up to `maxBytes`.
 */
export class CachedEventBodies implements EventBodies {
  /** Oldest first, so the first entries are the ones to drop. */
  private readonly bodies = new Map<string, Promise<string | null>>();
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(
    private readonly store: EventBodies,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  bodyOf(workspace: string, eventId: string, deliveryId?: string): Promise<string | null> {
    const key = `${workspace}/${eventId}`;
    const cached = this.bodies.get(key);
    if (cached) return cached;
    const read = this.store.bodyOf(workspace, eventId, deliveryId);
    this.bodies.set(key, read);
    read.then(
      (body) => {
        // Not found is not remembered: a body is always stored before its tasks are queued.
        if (body === null) return this.forget(key, read);
        if (this.bodies.get(key) !== read) return;
        this.sizes.set(key, body.length);
        this.bytes += body.length;
        for (const oldest of this.bodies.keys()) {
          if (this.bytes <= this.maxBytes || oldest === key) break;
          this.forget(oldest);
        }
      },
      () => this.forget(key, read),
    );
    return read;
  }

  private forget(key: string, only?: Promise<string | null>): void {
    if (only && this.bodies.get(key) !== only) return;
    this.bodies.delete(key);
    this.bytes -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
  }
}
