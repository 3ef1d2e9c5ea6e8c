import { describe, expect, it } from 'vitest';
import type { HourCounts } from '../../web/src/api-types.js';
import { bucketsOf } from '../../web/src/chart-data.js';

const HOUR_MS = 3_600_000;
const first = Date.parse('2026-11-25T11:00:00Z');
const hour = (i: number, counts: Partial<Omit<HourCounts, 'start_time'>> = {}): HourCounts => ({
  start_time: new Date(first + i * HOUR_MS).toISOString(),
  succeeded: 0,
  retrying: 0,
  pending: 0,
  failed: 0,
  ...counts,
});

describe('bucketsOf', () => {
  it('makes one bar per hour of the answer, oldest first, stacked by outcome', () => {
    const hours = Array.from({ length: 24 }, (_, i) => hour(i));
    hours[23] = hour(23, { succeeded: 1, failed: 1 });
    hours[21] = hour(21, { retrying: 1 });
    hours[0] = hour(0, { pending: 1 });
    const buckets = bucketsOf(hours);
    expect(buckets).toHaveLength(24);
    expect(buckets[23]).toEqual({ start: Date.parse('2026-11-26T10:00:00Z'), total: 2, counts: { succeeded: 1, retrying: 0, pending: 0, failed: 1 } });
    expect(buckets[21]?.counts.retrying).toBe(1);
    expect(buckets[0]).toMatchObject({ start: Date.parse('2026-11-25T11:00:00Z'), total: 1, counts: { pending: 1 } });
    expect(buckets.reduce((sum, b) => sum + b.total, 0)).toBe(4);
  });

  it('takes a count the answer leaves out as zero', () => {
    const [bucket] = bucketsOf([{ start_time: '2026-11-26T10:00:00Z', succeeded: 3 } as HourCounts]);
    expect(bucket).toEqual({ start: Date.parse('2026-11-26T10:00:00Z'), total: 3, counts: { succeeded: 3, retrying: 0, pending: 0, failed: 0 } });
  });
});
