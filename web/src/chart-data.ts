import type { Delivery, DeliveryStatus } from './api-types.js';

export const HOUR_MS = 3_600_000;
export const OUTCOMES: readonly DeliveryStatus[] = ['succeeded', 'retrying', 'pending', 'failed'];

export interface HourBucket {
  /** Start of the hour (ms). */
  start: number;
  counts: Record<DeliveryStatus, number>;
  total: number;
}

/**
 * Deliveries per hour for the 24 hours ending with the current hour, by outcome.
 * Deliveries outside that window (or without a creation time) are ignored.
 */
export function bucketByHour(deliveries: readonly Delivery[], now: number): HourBucket[] {
  const currentHour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const first = currentHour - 23 * HOUR_MS;
  const buckets: HourBucket[] = Array.from({ length: 24 }, (_, i) => ({
    start: first + i * HOUR_MS,
    counts: { succeeded: 0, retrying: 0, pending: 0, failed: 0 },
    total: 0,
  }));
  for (const delivery of deliveries) {
    const created = delivery.created_at ? Date.parse(delivery.created_at) : NaN;
    if (Number.isNaN(created) || created < first || created >= currentHour + HOUR_MS) continue;
    const bucket = buckets[Math.floor((created - first) / HOUR_MS)];
    if (!bucket || !(delivery.status in bucket.counts)) continue;
    bucket.counts[delivery.status] += 1;
    bucket.total += 1;
  }
  return buckets;
}

/** True once a newest-first page reaches past the 24 h window: no older page is needed. */
export function reachesPast(page: readonly Delivery[], now: number): boolean {
  const last = page[page.length - 1];
  return !!last?.created_at && Date.parse(last.created_at) < now - 24 * HOUR_MS;
}
