/** How often the loop is checked; its timer is late by however long the loop was held up. */
const TICK_MS = 100;
/** Lateness a timer has anyway (other callbacks of the same turn, a busy moment) is not a hold-up. */
const TOLERANCE_MS = 20;

/**
 * A clock in milliseconds that stands still while this process's event loop is held up: busy with
 * other work, or not scheduled at all on a saturated machine. Time spent so does not count toward
 * how long a send took, so a webhook that answered at once is not taken for slow because this
 * process read its answer a second late.
 */
export class LoopTime {
  private heldUp = 0;
  private due = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly wallNow: () => number = Date.now) {}

  readonly now = (): number => {
    const wall = this.wallNow();
    if (!this.timer) {
      this.due = wall + TICK_MS;
      this.timer = setInterval(() => this.tick(), TICK_MS).unref();
    }
    // The tick may not have run yet (the loop is still working through what piled up): a hold-up
    // counts from the moment it began, not from when the tick gets to see it.
    return wall - this.heldUp - this.overdue(wall);
  };

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const wall = this.wallNow();
    this.heldUp += this.overdue(wall);
    this.due = wall + TICK_MS;
  }

  private overdue(wall: number): number {
    return Math.max(0, wall - this.due - TOLERANCE_MS);
  }
}

/** The process's loop time, for every user that asks how long something of its own took. */
export const loopTime = new LoopTime();
