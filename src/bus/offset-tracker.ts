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
