export interface BatcherOptions {
  /** Flush once this many items wait. */
  maxItems: number;
  /** Or once the oldest waiting item is this old. */
  maxDelayMs: number;
}

/**
 * Turns many small writes into few large ones (one insert or produce per flush) while each
 * caller still learns whether its own items were written, and what the write said of them
 * when `write` returns one result per item.
 */
export class Batcher<T, R = void> {
  private items: T[] = [];
  private waiters: Array<{ from: number; count: number; resolve: (results: R[]) => void; reject: (error: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing = Promise.resolve();

  constructor(
    private readonly write: (items: T[]) => Promise<R[] | void>,
    private readonly options: BatcherOptions,
  ) {}

  add(...items: T[]): Promise<void> {
    return this.submit(...items).then(() => {});
  }

  /** Like `add`, and resolves with what the write said of these items, in order. */
  submit(...items: T[]): Promise<R[]> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ from: this.items.length, count: items.length, resolve, reject });
      this.items.push(...items);
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
        (results) => waiters.forEach((w) => w.resolve(results ? results.slice(w.from, w.from + w.count) : [])),
        (error) => waiters.forEach((w) => w.reject(error)),
      ),
    );
    return this.flushing;
  }
}
