import type { Document, FindCursor } from 'mongodb';

type Doc = { _id: string } & Document;
import { describe, expect, it } from 'vitest';
import { newDeliveryId, packIdOf } from '../../src/domain/ids.js';
import { ApiKeyStore } from '../../src/store/api-key-store.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { fanOutPartOf, partitionOf, partitionOfId } from '../../src/store/partitions.js';
import { NEWEST_FIRST, afterCursor, encodeCursor } from '../../src/store/paging.js';
import { useMongo } from '../helpers/servers.js';

const mongo = await useMongo('indexes');
const info = await mongo.db.command({ buildInfo: 1 });
const onFerretDb = Boolean(info.ferretdbVersion);

/** The stages of a query's winning plan, from its explain output. */
async function stagesOf(cursor: FindCursor<Doc>): Promise<string[]> {
  const plan = (await cursor.explain('queryPlanner')) as Document;
  const stages: string[] = [];
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (typeof n.stage === 'string') stages.push(n.stage);
    for (const value of Object.values(n)) {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') walk(value);
    }
  };
  walk((plan.queryPlanner as Document | undefined)?.winningPlan ?? plan);
  return stages;
}

// Runs wherever MONGODB_URI points at a MongoDB. FerretDB 1.x on SQLite answers explain without a
// plan of indexes (it reads whole collections and uses no index its pushdown could not name), so
// there is nothing to check there: its reads are kept small by the hour collections instead.
describe.skipIf(onFerretDb)(`every query of the delivery and API key stores is served by an index (MongoDB; ${onFerretDb ? 'skipped: the server is FerretDB, whose SQLite backend plans no index use' : info.version})`, () => {
  it('finds no COLLSCAN in the plan of any query shape the service makes', async () => {
    const deliveries = new DeliveryStore(mongo.db, { retentionMs: 30 * 86_400_000 });
    await deliveries.ensureIndexes();
    const now = new Date();
    const id = newDeliveryId(now.getTime());
    const record = { id, workspace: 'ws_ix', webhookId: 'whk_ix', eventId: 'evt_ix1', eventType: 'sms.sent', agent: null, status: 'pending' as const, attemptCount: 0, nextAttemptAt: now, lastResponseStatus: 0, lastError: '', payload: '{}', attempts: [], createdAt: now, updatedAt: now };
    await deliveries.insertPending([record], 't:0:1', 'digest');
    await deliveries.recordOutcomes([{ id: 'out_ix1', deliveryId: id, workspace: 'ws_ix', webhookId: 'whk_ix', eventId: 'evt_ix1', number: 1, status: 'failed', nextAttemptAt: null, recordedAt: now }]);
    // A fan-out large enough that its later parts are stored as packs, and a webhook in one of them.
    const fan = Array.from({ length: 60 }, (_, n) => ({ ...record, id: newDeliveryId(now.getTime()), webhookId: `whk_ix_${String(n).padStart(2, '0')}`, eventId: 'evt_ix2' }));
    const inPack = fan.find((r) => fanOutPartOf(r.webhookId) > 0)!.webhookId;
    const packed: string[] = [];
    await deliveries.insertPending(fan, 't:0:3', 'digest', (part) => packed.push(...part.filter((r) => r.webhookId === inPack).map((r) => r.id)));
    expect(packed).toHaveLength(1);
    const apiKeys = new ApiKeyStore(mongo.db);
    await apiKeys.init();

    const shard = partitionOf(id, 'whk_ix');
    const d = mongo.db.collection<Doc>(`deliveries_${shard}`);
    const o = mongo.db.collection<Doc>(`delivery_outcomes_${shard}`);
    const p = mongo.db.collection<Doc>(`event_payloads_${partitionOfId(id)}`);
    const keys = mongo.db.collection<Doc>('api_keys');
    const counts = mongo.db.collection<Doc>(`delivery_counts_${partitionOfId(id)}`);
    const cursor = encodeCursor(now, id);
    const pk = mongo.db.collection<Doc>(`delivery_packs_${partitionOf(packed[0]!, inPack)}`);
    const packPage = { workspace: 'ws_ix', webhookIds: inPack };
    const shapes: Record<string, FindCursor<Doc>> = {
      'deliveries page': d.find({ workspace: 'ws_ix', webhookId: 'whk_ix' }).sort(NEWEST_FIRST).limit(51),
      'deliveries page by cursor': d.find({ workspace: 'ws_ix', webhookId: 'whk_ix', ...(afterCursor(cursor) as object) }).sort(NEWEST_FIRST).limit(51),
      'deliveries page of one event type': d.find({ workspace: 'ws_ix', webhookId: 'whk_ix', eventType: 'sms.sent' }).sort(NEWEST_FIRST),
      'one delivery': d.find({ _id: id }).limit(1),
      'deliveries by id': d.find({ _id: { $in: [id, 'dlv_other'] } }),
      'failed deliveries of a window': d.find({ workspace: 'ws_ix', webhookId: 'whk_ix', createdAt: { $gte: new Date(0), $lt: now } }).sort({ createdAt: 1, _id: 1 }),
      'stored pairs of an event': d.find({ eventId: { $in: ['evt_ix1'] } }),
      'deliveries of a run': d.find({ eventId: { $regex: '^evt_ix' } }, { projection: { _id: 1 } }),
      'packs page': pk.find(packPage).sort(NEWEST_FIRST).limit(51),
      'packs page by cursor': pk.find({ ...packPage, ...(afterCursor(encodeCursor(now, packIdOf(packed[0]!))) as object) }).sort(NEWEST_FIRST).limit(51),
      'packs page of one event type': pk.find({ ...packPage, eventType: 'sms.sent' }).sort(NEWEST_FIRST),
      'one pack': pk.find({ _id: packIdOf(packed[0]!) }).limit(1),
      'packs by id': pk.find({ _id: { $in: [packIdOf(packed[0]!), 'dlv_other'] } }),
      'packs of a window': pk.find({ ...packPage, createdAt: { $gte: new Date(0), $lt: now } }),
      'packs of an event': pk.find({ eventId: { $in: ['evt_ix2'] } }),
      'packs of a run': pk.find({ eventId: { $regex: '^evt_ix' } }, { projection: { ids: 1 } }),
      'outcomes of one delivery': o.find({ deliveryId: id }),
      'outcomes of a page': o.find({ deliveryId: { $in: [id, 'dlv_other'] } }),
      'outcomes of a run': o.find({ eventId: { $regex: '^evt_ix' } }),
      'an event body': p.find({ _id: 'ws_ix/evt_ix1' }).limit(1),
      "counts of an hour's shard": counts.find({ _id: { $gte: '1-', $lt: '1.' } }, { projection: { 'w.ws_ix.whk_ix': 1 } }),
      'when counts were first kept': mongo.db.collection<Doc>('delivery_counts').find({ _id: 'summaries' }).limit(1),
      'API key by hash': keys.find({ hash: 'ab' }).limit(1),
      'API keys of a workspace': keys.find({ workspace: 'ws_ix' }).sort({ createdAt: 1, _id: 1 }),
      'API key by prefix or id': keys.find({ $or: [{ _id: 'x' }, { prefix: 'x' }] }).limit(2),
    };
    const scans: string[] = [];
    for (const [name, query] of Object.entries(shapes)) {
      const stages = await stagesOf(query);
      if (stages.includes('COLLSCAN') || stages.length === 0) scans.push(`${name}: ${stages.join(' > ') || 'no plan'}`);
    }
    expect(scans).toEqual([]);

    // The hour collections expire their records with the retention period too.
    const ttl = (await d.indexes()).find((ix) => ix.expireAfterSeconds !== undefined);
    expect(ttl).toMatchObject({ key: { createdAt: 1 }, expireAfterSeconds: 30 * 86_400 });
    await deliveries.close();
  });
});

describe.runIf(onFerretDb)('on FerretDB', () => {
  it('keeps one collection per hour (and webhook shard), so a delivery and its outcomes are read from its hour alone', async () => {
    const store = new DeliveryStore(mongo.db);
    await store.ensureIndexes();
    const at = Date.parse('2026-03-01T10:20:00Z');
    const id = newDeliveryId(at);
    await store.insertPending([{ id, workspace: 'ws_ix', webhookId: 'whk_ix', eventId: 'evt_ixf', eventType: 'sms.sent', agent: null, status: 'pending', attemptCount: 0, nextAttemptAt: new Date(at), lastResponseStatus: 0, lastError: '', payload: '{}', attempts: [], createdAt: new Date(at), updatedAt: new Date(at) }], 't:0:2', 'digest');
    const names = (await mongo.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    expect(names).toEqual(expect.arrayContaining([`deliveries_${partitionOf(id, 'whk_ix')}`, 'event_payloads_2026030110']));
    expect(partitionOf(id, 'whk_ix')).toMatch(/^2026030110_\d$/);
    expect(await store.get('ws_ix', 'whk_ix', id)).toMatchObject({ id, status: 'pending' });
    await store.close();
  });
});
