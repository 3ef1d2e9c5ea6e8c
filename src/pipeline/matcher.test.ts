import { describe, expect, it } from 'vitest';
import type { ValidEvent } from '../domain/event.js';
import { deliveryTime, Matcher, RECORD_TIME_WINDOW_MS } from './matcher.js';
import { enqueueInto, webhookRecord } from '../../test/helpers/doubles.js';
import type { DeliveryRecord, DeliveryTask } from './ports.js';

const webhook = (n: number) => webhookRecord(`whk_${n}`);

describe('Matcher', () => {
  it('renders a 1 MiB event once for all its webhooks, not once per webhook', async () => {
    const webhooks = Array.from({ length: 400 }, (_, n) => webhook(n));
    const event: ValidEvent = { id: 'evt_big', type: 'email.received', workspace: 'acme', agent: null, createdAt: new Date(0), data: { text: 'y'.repeat(1024 * 1024 - 200) } };
    let growthMb = -1;
    let inserted: DeliveryRecord[] = [];
    const before = process.memoryUsage().heapUsed;
    const deliveries = {
      insertPending: async (records: DeliveryRecord[]) => {
        // Every record is alive here: 400 copies of the body would be 400 MiB.
        growthMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
        inserted = records;
        return { existing: [] };
      },
      recordOutcomes: async () => {},
    };
    const tasks: DeliveryTask[] = [];
    const queue = enqueueInto(tasks);

    const result = await new Matcher({ findMatching: async () => webhooks }, deliveries, queue).match(event, 'events:0:0');

    expect(result).toEqual({ queued: 400 });
    expect(inserted).toHaveLength(400);
    expect(new Set(inserted.map((d) => d.payload)).size).toBe(1);
    expect(tasks.every((t) => t.payload === null)).toBe(true);
    expect(growthMb).toBeGreaterThanOrEqual(0);
    expect(growthMb).toBeLessThan(64);
  });

  it('dates deliveries by their record within the plausible window, else by now', () => {
    const now = 1_800_000_000_000;
    expect(deliveryTime(now - 20_000, now)).toBe(now - 20_000);
    expect(deliveryTime(now - RECORD_TIME_WINDOW_MS, now)).toBe(now - RECORD_TIME_WINDOW_MS);
    expect(deliveryTime(now - RECORD_TIME_WINDOW_MS - 1, now)).toBe(now);
    expect(deliveryTime(now + 30_000, now)).toBe(now + 30_000);
    expect(deliveryTime(now + 3_600_000, now)).toBe(now);
    expect(deliveryTime(undefined, now)).toBe(now);
    expect(deliveryTime(Number('nope'), now)).toBe(now);
  });
});
