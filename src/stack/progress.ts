export type Say = (line: string) => void;

/** Longest a running step may go without a line; a heartbeat fills the gap. */
const QUIET_MS = 9_000;
const TICK_MS = 500;

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/**
 * Progress of the stack's provisioning steps, several of which may run at once: a line when a
 * step starts and when it ends (with its time), and while any step runs, never more than
 * QUIET_MS without a line ("  … still building FerretDB v1.24.2 (40 s)").
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
    const key = Symbol(doing);
    const startedAt = Date.now();
    this.say(start);
    this.running.set(key, { doing, startedAt });
    this.timer ??= setInterval(() => this.beat(), this.tickMs).unref();
    try {
      const result = await work();
      this.say(`  ${doing}: done in ${seconds(Date.now() - startedAt)}`);
      return result;
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
    if (this.running.size === 0 || now - this.lastLineAt < this.quietMs) return;
    const steps = [...this.running.values()].map(({ doing, startedAt }) => `${doing} (${seconds(now - startedAt)})`);
    this.say(`  … still ${steps.join(', ')}`);
  }
}
