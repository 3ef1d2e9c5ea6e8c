export interface BatcherOptions {
  /** Write once this many items wait; also the most one write takes. */
  maxItems: number;
  /**
   * Or once the oldest waiting item is this old. 0: at the end of the current event-loop turn,
   * since a write that is running gathers what arrives meanwhile anyway; no timer adds latency.
   */
  maxDelayMs: number;
  /**
   * Writes that may run at once (default 1). More lets a small batch go while a large one is still
   * being written, instead of waiting behind it; batches still grow once every write is busy.
   */
  maxWrites?: number;
}

interface Waiter<R> {
  /** Where the caller's items start in `items`. */
  from: number;
  count: number;
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
  private items: T[] = [];
  private waiters: Waiter<R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;
  private readonly writing = new Set<Promise<void>>();

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
      if (this.items.length >= this.options.maxItems) void this.flush();
      else if (this.options.maxDelayMs === 0) this.soon ??= setImmediate(() => void this.flush());
      else this.timer ??= setTimeout(() => void this.flush(), this.options.maxDelayMs);
    });
  }

  /** Writes everything waiting now (and whatever arrives before that ends); never rejects. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    clearImmediate(this.soon);
    this.timer = undefined;
    this.soon = undefined;
    this.startWrites();
    while (this.writing.size > 0) await Promise.all(this.writing);
  }

  private startWrites(): void {
    while (this.waiters.length > 0 && this.writing.size < (this.options.maxWrites ?? 1)) {
      const write = this.writeNext().finally(() => {
        this.writing.delete(write);
        this.startWrites();
      });
      this.writing.add(write);
    }
  }

  private async writeNext(): Promise<void> {
    // Whole callers only, up to maxItems (or one caller's items, if it brought more).
    let count = 0;
    let callers = 0;
    while (callers < this.waiters.length && (callers === 0 || count + this.waiters[callers]!.count <= this.options.maxItems)) {
      count += this.waiters[callers]!.count;
      callers++;
    }
    const items = this.items.splice(0, count);
    const waiters = this.waiters.splice(0, callers);
    for (const waiter of this.waiters) waiter.from -= count;
    try {
      const results = await this.write(items);
      for (const w of waiters) w.resolve(results ? results.slice(w.from, w.from + w.count) : []);
    } catch (error) {
      for (const w of waiters) w.reject(error);
    }
  }
}
