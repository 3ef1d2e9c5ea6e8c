export interface BatcherOptions<T = unknown> {
  /** Write once this many items wait; also the most one write takes. */
  maxItems: number;
  /**
   * Or once the oldest waiting item is this old, after a write that just ended too, so a busy
   * writer's batches span at least this long. 0: at the end of the current event-loop turn,
   * since a write that is running gathers what arrives meanwhile anyway; no timer adds latency.
   */
  maxDelayMs: number;
  /**
   * Writes that may run at once (default 1). More lets a small batch go while a large one is still
   * being written, instead of waiting behind it; batches still grow once every write is busy.
   */
  maxWrites?: number;
  /**
   * Whose a caller's items are (its first item's key). Callers of each key are taken in turn, so one
   * key's backlog does not hold another's next caller back for more than one write. Absent: in
   * the order they came.
   */
  fairBy?: (item: T) => string;
}

interface Waiter<T, R> {
  items: T[];
  at: number;
  key: string;
  resolve: (results: R[]) => void;
  reject: (error: unknown) => void;
}

/**
 * Turns many small writes into few large ones (one insert or produce per write) while each
 * caller still learns whether its own items were written, and what the write said of them
 * when `write` returns one result per item. Up to `maxWrites` writes run at a time; what arrives
 * while all of them run goes in the next, so the busier the writer, the larger its batches.
 */
export class Batcher<T, R = void> {
  private waiters: Waiter<T, R>[] = [];
  private waitingItems = 0;
  /** The key whose caller went first in the last write: the next write starts with the key after it. */
  private lastFirst: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly write: (items: T[]) => Promise<R[] | void>,
    private readonly options: BatcherOptions<T>,
  ) {}

  add(...items: T[]): Promise<void> {
    return this.submit(...items).then(() => {});
  }

  /** Like `add`, and resolves with what the write said of these items, in order. */
  submit(...items: T[]): Promise<R[]> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ items, at: Date.now(), key: items.length > 0 ? (this.options.fairBy?.(items[0]!) ?? '') : '', resolve, reject });
      this.waitingItems += items.length;
      if (this.waitingItems >= this.options.maxItems) this.kick();
      else if (this.options.maxDelayMs === 0) this.soon ??= setImmediate(() => this.kick());
      else this.timer ??= setTimeout(() => this.kick(), this.options.maxDelayMs);
    });
  }

  /** Writes everything waiting now (and whatever arrives before that ends); never rejects. */
  async flush(): Promise<void> {
    for (;;) {
      this.kick();
      if (this.writing.size === 0) return;
      await Promise.all(this.writing);
    }
  }

  /** Starts the writes that may start now, whatever their items' age: a timer ran out, or a batch is full. */
  private kick(): void {
    clearTimeout(this.timer);
    clearImmediate(this.soon);
    this.timer = undefined;
    this.soon = undefined;
    this.startWrites(true);
  }

  /** `now`: a timer ran out, a batch is full or a flush; otherwise a write just ended, and the next waits for its oldest item's age. */
  private startWrites(now: boolean): void {
    const { maxDelayMs, maxItems } = this.options;
    if (!now && maxDelayMs > 0 && this.waiters.length > 0 && this.waitingItems < maxItems) {
      const wait = this.waiters[0]!.at + maxDelayMs - Date.now();
      if (wait > 0) {
        this.timer ??= setTimeout(() => this.kick(), wait);
        return;
      }
    }
    while (this.waiters.length > 0 && this.writing.size < (this.options.maxWrites ?? 1)) {
      const write = this.writeNext().finally(() => {
        this.writing.delete(write);
        this.startWrites(false);
      });
      this.writing.add(write);
    }
  }

  private async writeNext(): Promise<void> {
    const waiters = this.nextCallers();
    const items = waiters.flatMap((w) => w.items);
    this.waitingItems -= items.length;
    try {
      const results = await this.write(items);
      let from = 0;
      for (const w of waiters) {
        w.resolve(results ? results.slice(from, from + w.items.length) : []);
        from += w.items.length;
      }
    } catch (error) {
      for (const w of waiters) w.reject(error);
    }
  }

  /**
   * Whole callers up to maxItems (or one caller, if it brought more): the next of each key in turn,
   * each key's in order, starting after the key that went first last time.
   */
  private nextCallers(): Waiter<T, R>[] {
    const queues = new Map<string, { waiters: Waiter<T, R>[]; next: number }>();
    for (const w of this.waiters) {
      const queue = queues.get(w.key);
      if (queue) queue.waiters.push(w);
      else queues.set(w.key, { waiters: [w], next: 0 });
    }
    const keys = [...queues.keys()];
    const after = keys.indexOf(this.lastFirst!) + 1;
    const turns = [...keys.slice(after), ...keys.slice(0, after)].map((key) => queues.get(key)!);
    this.lastFirst = turns[0]?.waiters[0]?.key;
    const taken = new Set<Waiter<T, R>>();
    let count = 0;
    for (let progress = true; progress; ) {
      progress = false;
      for (const queue of turns) {
        const w = queue.waiters[queue.next];
        if (!w) continue;
        if (taken.size > 0 && count + w.items.length > this.options.maxItems) return this.take(taken);
        taken.add(w);
        queue.next++;
        count += w.items.length;
        progress = true;
      }
    }
    return this.take(taken);
  }

  private take(taken: Set<Waiter<T, R>>): Waiter<T, R>[] {
    this.waiters = this.waiters.filter((w) => !taken.has(w));
    return [...taken];
  }
}
