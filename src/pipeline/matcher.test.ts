import { describe, expect, it } from 'vitest';
import type { ValidEvent } from '../domain/event.js';
import { deliveryTime, Matcher, RECORD_TIME_WINDOW_MS } from './matcher.js';
import { enqueueInto, webhookRecord } from '../../test/helpers/doubles.js';
import { DomainError } from '../domain/errors.js';
import type { DeliveryOutcome, DeliveryRecord, DeliveryTask, DeliveryWriter } from './ports.js';

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

  it('queues the parts of a large fan-out as the store hands them on, each delivery once', async () => {
    const webhooks = Array.from({ length: 250 }, (_, n) => webhook(n));
    const event: ValidEvent = { id: 'evt_fan', type: 'email.received', workspace: 'acme', agent: null, createdAt: new Date(0), data: {} };
    const queuedBeforeLastPart: number[] = [];
    const tasks: DeliveryTask[] = [];
    // As the store does: two parts handed on, the rest answered at the end.
    const deliveries: DeliveryWriter = {
      insertPending: async (records, _source, _digest, stored) => {
        stored!(records.slice(0, 50));
        stored!(records.slice(50, 150));
        await new Promise((resolve) => setTimeout(resolve, 5));
        queuedBeforeLastPart.push(tasks.length);
        return { existing: [] };
      },
      recordOutcomes: async () => {},
    };
    const result = await new Matcher({ findMatching: async () => webhooks }, deliveries, enqueueInto(tasks)).match(event, 'events:0:1');
    expect(result).toEqual({ queued: 250 });
    expect(queuedBeforeLastPart).toEqual([150]);
    expect(new Set(tasks.map((t) => t.webhookId)).size).toBe(250);
    expect(tasks).toHaveLength(250);
  });

  it('ends a refused part failed and reports it, and fails the match when a part could not be queued for now', async () => {
    const webhooks = Array.from({ length: 120 }, (_, n) => webhook(n));
    const event: ValidEvent = { id: 'evt_fan2', type: 'email.received', workspace: 'acme', agent: null, createdAt: new Date(0), data: {} };
    const failed: DeliveryOutcome[] = [];
    const deliveries: DeliveryWriter = {
      insertPending: async (records, _source, _digest, stored) => (stored!(records.slice(0, 50)), { existing: [] }),
      recordOutcomes: async (outcomes) => void failed.push(...outcomes),
    };
    const refusing = (error: Error) => ({ ...enqueueInto([]), enqueue: async (t: DeliveryTask[]) => { if (t.length === 50) throw error; } });
    const refused = await new Matcher({ findMatching: async () => webhooks }, deliveries, refusing(new DomainError('invalid_argument', 'record too large'))).match(event, 'events:0:2');
    expect(refused).toEqual({ queued: 70, refused: 'record too large' });
    expect(failed).toHaveLength(50);
    expect(failed.every((o) => o.status === 'failed' && o.lastError === 'could not be queued: record too large')).toBe(true);

    const unavailable = new DomainError('unavailable', 'Kafka is down');
    await expect(new Matcher({ findMatching: async () => webhooks }, deliveries, refusing(unavailable)).match(event, 'events:0:3')).rejects.toBe(unavailable);
  });

  it('hands tasks to this process\'s dispatcher where it takes them, queues the rest, and reports what is still in hand', async () => {
    const webhooks = Array.from({ length: 3 }, (_, n) => webhook(n));
    const event: ValidEvent = { id: 'evt_hand', type: 'email.received', workspace: 'acme', agent: null, createdAt: new Date(0), data: {} };
    const produced: DeliveryTask[] = [];
    let release = () => {};
    const sent = new Promise<void>((resolve) => (release = resolve));
    const inHand = { take: (tasks: DeliveryTask[]) => ({ rest: tasks.filter((t) => t.webhookId === 'whk_1'), done: sent }) };
    const deliveries = { insertPending: async () => ({ existing: [] }), recordOutcomes: async () => {} };
    const result = await new Matcher({ findMatching: async () => webhooks }, deliveries, enqueueInto(produced), undefined, Date.now, inHand).match(event, 'events:0:4');
    expect(result.queued).toBe(3);
    expect(produced.map((t) => t.webhookId)).toEqual(['whk_1']);
    let concluded = false;
    void result.held!.then(() => (concluded = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(concluded).toBe(false);
    release();
    await result.held;
    expect(concluded).toBe(true);
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
