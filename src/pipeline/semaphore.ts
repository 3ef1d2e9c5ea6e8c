/** Bounds concurrent work; waiters are served in order, before anyone who does not wait. */
export class Semaphore {
  private available: number;
  /** Each wakes its waiter: true hands it the slot being released; false is its periodic check. */
  private readonly waiters: Array<(handed: boolean) => boolean> = [];

  constructor(size: number) {
    this.available = size;
  }

  /** Resolves true once a slot is taken, or false if `onWait`, asked every second while waiting, says to give up. */
  async acquire(onWait?: () => Promise<boolean>): Promise<boolean> {
    if (this.tryAcquire()) return true;
    for (;;) {
      let wake!: (handed: boolean) => boolean;
      const woken = new Promise<boolean>((resolve) => {
        let settled = false;
        wake = (handed) => {
          if (settled) return false;
          settled = true;
          resolve(handed);
          return true;
        };
      });
      this.waiters.push(wake);
      const timer = setTimeout(() => wake(false), 1_000);
      const handed = await woken;
      clearTimeout(timer);
      if (handed) return true;
      const index = this.waiters.indexOf(wake);
      if (index >= 0) this.waiters.splice(index, 1);
      if (this.tryAcquire()) return true;
      if (onWait && !(await onWait())) return false;
    }
  }

  /** A slot if one is free now, without waiting; a waiting acquire gets a released slot first. */
  tryAcquire(): boolean {
    if (this.available === 0) return false;
    this.available--;
    return true;
  }

  /** Hands the slot to the first waiter, or frees it. */
  release(): void {
    for (let next = this.waiters.shift(); next; next = this.waiters.shift()) if (next(true)) return;
    this.available++;
  }
}
