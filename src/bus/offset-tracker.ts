/**
 * Tracks one partition's in-flight messages so its committed offset never passes an
 * unfinished one: a crash then redelivers unfinished work instead of losing it.
 */
export class OffsetTracker {
  /** Offset → how many handlings of it are running (a rebalance can hand the same one out again). */
  private readonly inFlight = new Map<number, number>();
  private next: number | undefined;

  begin(offset: string): void {
    const n = Number(offset);
    this.inFlight.set(n, (this.inFlight.get(n) ?? 0) + 1);
    if (this.next === undefined || n + 1 > this.next) this.next = n + 1;
  }

  finish(offset: string): void {
    const n = Number(offset);
    const count = (this.inFlight.get(n) ?? 0) - 1;
    if (count > 0) this.inFlight.set(n, count);
    else this.inFlight.delete(n);
  }

  get pending(): number {
    return this.inFlight.size;
  }

  /** The offset to commit (the next one to read), or undefined before any message. */
  committable(): string | undefined {
    if (this.next === undefined) return undefined;
    let lowest = this.next;
    for (const offset of this.inFlight.keys()) if (offset < lowest) lowest = offset;
    return String(lowest);
  }
}

/** Bounds concurrent work; waiters are served in order. */
export class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(size: number) {
    this.available = size;
  }

  /** Resolves true once a slot is taken, or false if `giveUp` says so while waiting. */
  async acquire(onWait?: () => Promise<boolean>): Promise<boolean> {
    while (this.available === 0) {
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      this.waiters.push(wake);
      const timer = setTimeout(wake, 1_000);
      await woken;
      clearTimeout(timer);
      const index = this.waiters.indexOf(wake);
      if (index >= 0) this.waiters.splice(index, 1);
      if (this.available === 0 && onWait && !(await onWait())) return false;
    }
    this.available--;
    return true;
  }

  /** A slot if one is free now, without waiting. */
  tryAcquire(): boolean {
    if (this.available === 0) return false;
    this.available--;
    return true;
  }

  release(): void {
    this.available++;
    this.waiters.shift()?.();
  }
}
