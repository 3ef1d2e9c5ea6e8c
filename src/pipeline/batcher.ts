export interface BatcherOptions {
  /** Flush once this many items wait. */
  maxItems: number;
  /** Or once the oldest waiting item is this old. */
  maxDelayMs: number;
}

/**
 * Turns many small writes into few large ones (one bulkWrite or produce per flush) while
 * each caller still learns whether its own item was written.
 */
export class Batcher<T> {
  private items: T[] = [];
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing = Promise.resolve();

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly options: BatcherOptions,
  ) {}

  add(...items: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.items.push(...items);
      this.waiters.push({ resolve, reject });
      if (this.items.length >= this.options.maxItems) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.options.maxDelayMs);
    });
  }

  /** Writes what is waiting now; flushes run one after another, in order. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.items.length === 0) return this.flushing;
    const items = this.items;
    const waiters = this.waiters;
    this.items = [];
    this.waiters = [];
    this.flushing = this.flushing.then(() =>
      this.write(items).then(
        () => waiters.forEach((w) => w.resolve()),
        (error) => waiters.forEach((w) => w.reject(error)),
      ),
    );
    return this.flushing;
  }
}
