import type { DeliveryStatus, HourCounts } from './api-types.js';

export const OUTCOMES: readonly DeliveryStatus[] = ['succeeded', 'retrying', 'pending', 'failed'];

export interface HourBucket {
  /** Start of the hour (ms). */
  start: number;
  counts: Record<DeliveryStatus, number>;
  total: number;
}

/** The chart's bars from GetDeliveryCounts' hours (oldest first); a count the answer leaves out is 0. */
export function bucketsOf(hours: readonly HourCounts[]): HourBucket[] {
  return hours.map((hour) => {
    const counts = Object.fromEntries(OUTCOMES.map((o) => [o, Number(hour[o] ?? 0)])) as Record<DeliveryStatus, number>;
    return { start: Date.parse(hour.start_time), counts, total: OUTCOMES.reduce((sum, o) => sum + counts[o], 0) };
  });
}
