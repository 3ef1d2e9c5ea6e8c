import { describe, expect, it } from 'vitest';
import { coveredBy, mustReread, type MarkSeen } from './change-mark.js';

describe('mustReread', () => {
  it('reads again when the version moved, and never again while a mark without settling stands', () => {
    const first = mustReread(undefined, { version: 7, settleMs: 0 }, 100);
    expect(first).toEqual({ reread: true, seen: { version: 7, firstSeenAt: 100, settled: true } });
    expect(mustReread(first.seen, { version: 7, settleMs: 0 }, 5_000).reread).toBe(false);
    expect(mustReread(first.seen, { version: 8, settleMs: 0 }, 5_001).reread).toBe(true);
  });

  it('keeps reading while a settling mark stands, then once more at or after it settled, then stops', () => {
    const mark = { version: 3, settleMs: 1_000 };
    let seen: MarkSeen | undefined;
    const at = (now: number) => {
      const next = mustReread(seen, mark, now);
      seen = next.seen;
      return next.reread;
    };
    expect(at(0)).toBe(true);
    expect(at(400)).toBe(true);
    expect(at(999)).toBe(true);
    expect(seen!.settled).toBe(false);
    // The last read starts after the mark stood settleMs since first seen: it holds every covered change.
    expect(at(1_000)).toBe(true);
    expect(seen!.settled).toBe(true);
    expect(at(1_001)).toBe(false);
    expect(at(60_000)).toBe(false);
  });

  it('counts settling from when this reader first saw the version, not from when it was written', () => {
    const late = mustReread({ version: 1, firstSeenAt: 0, settled: true }, { version: 2, settleMs: 1_000 }, 50_000);
    expect(late.seen.firstSeenAt).toBe(50_000);
    expect(mustReread(late.seen, { version: 2, settleMs: 1_000 }, 50_900).reread).toBe(true);
  });
});

describe('coveredBy', () => {
  it('covers a change acknowledged within the settling time less the margin', () => {
    expect(coveredBy(1_000, 1_000, 1_900, 50)).toBe(true);
    expect(coveredBy(1_000, 1_000, 1_950, 50)).toBe(true);
    expect(coveredBy(1_000, 1_000, 1_951, 50)).toBe(false);
  });
});
