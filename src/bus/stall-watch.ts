/**
 * What a consumer is doing, and since when it last started a fetch. A consumer long-polls, so a
 * healthy one starts a fetch at least every second or so; one that has not for `afterMs` is
 * stuck somewhere (rejoining its group, restarting after a crash, every slot taken, or a request
 * that never ends) and says so, with where, instead of going quiet.
 */
export type ConsumerPhase = 'starting' | 'fetching' | 'handling records' | 'waiting for a free slot' | 'rejoining the group' | 'restarting after a crash';

export interface Stall {
  phase: ConsumerPhase;
  /** Since the last fetch started (or the watch began). */
  sinceFetchMs: number;
}

export class StallWatch {
  private phase: ConsumerPhase = 'starting';
  private lastFetchAt: number;
  /** When the last stall was reported: reported again only after another `afterMs`. */
  private reportedAt: number | undefined;

  constructor(
    private readonly afterMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastFetchAt = now();
  }

  enter(phase: ConsumerPhase): void {
    this.phase = phase;
  }

  /** A fetch started; the stall that was reported, if any, with how long it lasted. */
  fetched(): Stall | undefined {
    const now = this.now();
    const ended = this.reportedAt === undefined ? undefined : { phase: this.phase, sinceFetchMs: now - this.lastFetchAt };
    this.lastFetchAt = now;
    this.reportedAt = undefined;
    this.phase = 'fetching';
    return ended;
  }

  /** A stall to report now, or undefined: none, or reported less than `afterMs` ago. */
  check(): Stall | undefined {
    const now = this.now();
    const sinceFetchMs = now - this.lastFetchAt;
    if (sinceFetchMs < this.afterMs) return undefined;
    if (this.reportedAt !== undefined && now - this.reportedAt < this.afterMs) return undefined;
    this.reportedAt = now;
    return { phase: this.phase, sinceFetchMs };
  }
}
