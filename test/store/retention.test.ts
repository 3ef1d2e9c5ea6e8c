import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { newDeliveryId } from '../../src/domain/ids.js';
import { matchedDelivery, outcomeOf } from '../../src/pipeline/delivery-state.js';
import type { DeliveryOutcome, DeliveryRecord } from '../../src/pipeline/ports.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { hourOf } from '../../src/store/partitions.js';
import { scrape } from '../helpers/metrics.js';
import { startTestService } from '../helpers/service.js';
import { until } from '../helpers/wait.js';

const HOUR = 3_600_000;
const WORKSPACE = 'ws_retention';

function delivery(webhookId: string, createdAt: Date, n: number): DeliveryRecord {
  return matchedDelivery({ id: newDeliveryId(createdAt.getTime()), workspace: WORKSPACE, webhookId, eventId: `evt_retention${n}`, eventType: 'message.received', agent: null, payload: `{"n":${n}}`, createdAt });
}

const failed = (d: DeliveryRecord): DeliveryOutcome => ({
  ...outcomeOf({ ...d, deliveryId: d.id, attempt: 1 }, 'failed', d.createdAt),
  attempt: { number: 1, startedAt: d.createdAt, durationMs: 3, responseStatus: 500, responseBodyExcerpt: '', error: 'HTTP 500', manual: false },
});

describe('retention (WEBHOOKS_RETENTION)', () => {
  it('removes deliveries, outcomes, bodies and hourly counts older than the retention period in the background, by whole hours, and counts them in /metrics', async () => {
    // Short enough for the sweep to run every 2 s; the current hour is kept until it has ended.
    const { config, baseUrl } = await startTestService('retention', { WEBHOOKS_RETENTION: '4s' });
    const client = await MongoClient.connect(config.mongodbUri!);
    afterAll(() => client.close());
    const db = client.db(config.mongodbDatabase);
    const store = new DeliveryStore(db);

    // The current hour must outlast the test: close to its end, start in the next one.
    if (Date.now() % HOUR > HOUR - 60_000) await new Promise((resolve) => setTimeout(resolve, HOUR - (Date.now() % HOUR) + 100));
    const now = Date.now();
    const old = [5, 5, 3, 26].map((hoursAgo, i) => delivery('whk_retention', new Date(now - hoursAgo * HOUR), i));
    const recent = delivery('whk_retention', new Date(now), 9);
    for (const d of [...old, recent]) await store.insertPending([d], `t:0:${d.eventId}`, 'digest');
    await store.recordOutcomes([...old, recent].map(failed));
    await store.flushCounts();
    expect((await store.get(WORKSPACE, 'whk_retention', old[0]!.id))?.status).toBe('failed');
    const names = async () => (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    const oldHours = [...new Set(old.map((d) => hourOf(d.createdAt.getTime())))];
    const ofOldHours = (all: string[]) => all.filter((n) => oldHours.some((h) => n.includes(`_${h}`)));
    // Deliveries, outcomes, bodies and counts of each old hour.
    expect(ofOldHours(await names()).length).toBe(oldHours.length * 4);
    expect((await store.countsByHour(WORKSPACE, 'whk_retention', 24, now)).reduce((sum, h) => sum + h.failed, 0)).toBe(4);

    await until('the old hours are dropped', async () => (ofOldHours(await names()).length > 0 ? undefined : true), 30_000);
    for (const d of old) expect(await store.get(WORKSPACE, 'whk_retention', d.id)).toBeNull();
    expect(await store.bodyOf(WORKSPACE, old[0]!.eventId)).toBeNull();
    // What is younger than the period stays, with its outcome and body.
    expect(await store.get(WORKSPACE, 'whk_retention', recent.id)).toMatchObject({ status: 'failed', payload: recent.payload });
    const page = await store.list(WORKSPACE, 'whk_retention', {}, 50, '');
    expect(page.items.map((d) => d.id)).toEqual([recent.id]);
    // The chart counts what is kept.
    expect((await store.countsByHour(WORKSPACE, 'whk_retention', 24, now)).reduce((sum, h) => sum + h.failed, 0)).toBe(1);

    const metrics = await scrape(baseUrl);
    expect(metrics.sum('humiris_webhooks_retention_removed_records_total', { kind: 'deliveries' })).toBe(old.length);
    expect(metrics.sum('humiris_webhooks_retention_removed_records_total', { kind: 'outcomes' })).toBe(old.length);
    expect(metrics.sum('humiris_webhooks_retention_removed_records_total', { kind: 'payloads' })).toBe(old.length);
    // This store's counts documents of the old hours: one or more each (one per write that touched it).
    expect(metrics.sum('humiris_webhooks_retention_removed_records_total', { kind: 'counts' })).toBeGreaterThanOrEqual(oldHours.length);
    expect(metrics.sum('humiris_webhooks_retention_last_sweep_timestamp_seconds')).toBeGreaterThanOrEqual(Math.floor(now / 1000));
  });
});
