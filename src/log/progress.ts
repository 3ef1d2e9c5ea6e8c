export type Say = (line: string) => void;

/** Longest a running step may go without a line; a heartbeat fills the gap. */
const QUIET_MS = 9_000;
const TICK_MS = 500;

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/**
 * Progress of long steps, several of which may run at once (provisioning the local stack, a
 * service starting on a broker that is still settling): a line when a step starts and ends
 * (with its time), and while any step runs, never more than QUIET_MS without a line
 * ("  … still building FerretDB v1.24.2 (40 s)").
 */
export class Progress {
  private readonly running = new Map<symbol, { doing: string; startedAt: number }>();
  private lastLineAt = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sayLine: Say,
    private readonly quietMs = QUIET_MS,
    private readonly tickMs = TICK_MS,
  ) {}

  say(line: string): void {
    this.lastLineAt = Date.now();
    this.sayLine(line);
  }

  /**
   * Runs one step. `start` is its first line; `doing` names it in heartbeats and at its end
   * ("building FerretDB v1.24.2" → "  … still building FerretDB v1.24.2 (10 s)", "  building FerretDB v1.24.2: done in 95 s").
   */
  async step<T>(start: string, doing: string, work: () => Promise<T>): Promise<T> {
    this.say(start);
    const startedAt = Date.now();
    const result = await this.watch(doing, work);
    this.say(`  ${doing}: done in ${seconds(Date.now() - startedAt)}`);
    return result;
  }

  /** Runs work that is normally quick: silent unless it goes on past QUIET_MS, then heartbeats only. */
  async watch<T>(doing: string, work: () => Promise<T>): Promise<T> {
    const key = Symbol(doing);
    this.running.set(key, { doing, startedAt: Date.now() });
    this.timer ??= setInterval(() => this.beat(), this.tickMs).unref();
    try {
      return await work();
    } finally {
      this.running.delete(key);
      if (this.running.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }
  }

  private beat(): void {
    const now = Date.now();
    const steps = [...this.running.values()];
    // Quiet since the last line or, for work watched without a line of its own, since it began.
    const quietSince = Math.max(this.lastLineAt, Math.min(...steps.map((s) => s.startedAt)));
    if (steps.length === 0 || now - quietSince < this.quietMs) return;
    const doing = steps.map(({ doing, startedAt }) => `${doing} (${seconds(now - startedAt)})`);
    this.say(`  … still ${doing.join(', ')}`);
  }
}
