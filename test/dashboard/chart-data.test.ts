import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../web/src/api-types.js';
import { bucketByHour, HOUR_MS, reachesPast } from '../../web/src/chart-data.js';

const now = Date.parse('2026-11-26T10:30:00Z');
const at = (ms: number, status: Delivery['status']): Delivery => ({ id: `dlv_${ms}`, webhook_id: 'whk_1', event_type: 'sms.sent', agent: null, status, created_at: new Date(ms).toISOString() });

describe('bucketByHour', () => {
  it('puts deliveries of the last 24 hours in hourly buckets by outcome, ignoring older ones', () => {
    const buckets = bucketByHour(
      [at(now, 'succeeded'), at(now - 60_000, 'failed'), at(now - 2 * HOUR_MS, 'retrying'), at(now - 23 * HOUR_MS, 'pending'), at(now - 25 * HOUR_MS, 'failed')],
      now,
    );
    expect(buckets).toHaveLength(24);
    expect(buckets[23]).toMatchObject({ start: Date.parse('2026-11-26T10:00:00Z'), total: 2, counts: { succeeded: 1, failed: 1 } });
    expect(buckets[21]?.counts.retrying).toBe(1);
    expect(buckets[0]).toMatchObject({ start: Date.parse('2026-11-25T11:00:00Z'), total: 1, counts: { pending: 1 } });
    expect(buckets.reduce((sum, b) => sum + b.total, 0)).toBe(4);
  });

  it('knows when a newest-first page has reached past the window', () => {
    expect(reachesPast([at(now, 'succeeded'), at(now - HOUR_MS, 'failed')], now)).toBe(false);
    expect(reachesPast([at(now, 'succeeded'), at(now - 25 * HOUR_MS, 'failed')], now)).toBe(true);
    expect(reachesPast([], now)).toBe(false);
  });
});
