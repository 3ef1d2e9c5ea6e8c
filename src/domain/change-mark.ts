/**
 * A change mark: the counter a writer moves so that readers of cached data know to read again.
 * A mark that settles for `settleMs` covers every change its writer makes in that time, so a run
 * of changes costs one mark, not one each: readers keep reading again until it has stood that long
 * on their own clock, then once more.
 */
export interface ChangeMark {
  version: number;
  /** 0: covers only what was written before it (readers compare versions alone). */
  settleMs: number;
}

/** What a reader knows of the mark its cached data was read under. */
export interface MarkSeen {
  version: number;
  /** When the reader first had this version in hand (its own clock). */
  firstSeenAt: number;
  settled: boolean;
}

/**
 * Whether data cached under `seen` must be read again, given `mark` read at `now` (taken once the
 * answer came back: the mark had landed by then). A read started at or after firstSeenAt + settleMs
 * holds every change the writer acknowledged within settleMs of sending the mark, whichever order
 * the writes landed in.
 */
export function mustReread(seen: MarkSeen | undefined, mark: ChangeMark, now: number): { reread: boolean; seen: MarkSeen } {
  if (!seen || seen.version !== mark.version) {
    return { reread: true, seen: { version: mark.version, firstSeenAt: now, settled: mark.settleMs <= 0 } };
  }
  if (seen.settled) return { reread: false, seen };
  return { reread: true, seen: { ...seen, settled: now - seen.firstSeenAt >= mark.settleMs } };
}

/**
 * Whether a change its writer had acknowledged at `ackedAt` is covered by a mark it sent at `sentAt`
 * (both on the writer's clock); `marginMs` allows for the clocks of writer and reader running at
 * slightly different rates.
 */
export const coveredBy = (sentAt: number, settleMs: number, ackedAt: number, marginMs: number): boolean =>
  ackedAt <= sentAt + settleMs - marginMs;
