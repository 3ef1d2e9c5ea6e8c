import type { Db } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { newDeliveryId } from '../../src/domain/ids.js';
import { matchedDelivery, outcomeOf, stateRank } from '../../src/pipeline/delivery-state.js';
import type { DeliveryOutcome, DeliveryRecord, DeliveryStatus } from '../../src/pipeline/ports.js';
import { DeliveryCounts } from '../../src/store/delivery-counts.js';
import { DeliveryStore } from '../../src/store/delivery-store.js';
import { hourOf, partitionOf } from '../../src/store/partitions.js';
import { useMongo } from '../helpers/servers.js';
import { until } from '../helpers/wait.js';
import { wrapCollectionMethod } from '../helpers/wrapped-db.js';

const HOUR = 3_600_000;
const WORKSPACE = 'ws-counts';

let db: Db;
/** A database as an earlier version left it. */
let older: Db;
beforeAll(async () => {
  [db, older] = await Promise.all([useMongo('delivery-counts'), useMongo('delivery-counts-older')]).then((dbs) => dbs.map((m) => m.db)) as [Db, Db];
});

let events = 0;
function delivery(webhookId: string, createdAt: number): DeliveryRecord {
  const eventId = `evt_counts${events++}`;
  return matchedDelivery({ id: newDeliveryId(createdAt), workspace: WORKSPACE, webhookId, eventId, eventType: 'email.received', agent: null, payload: '{}', createdAt: new Date(createdAt) });
}

const ended = (d: DeliveryRecord, number: number, status: DeliveryStatus): DeliveryOutcome => outcomeOf({ ...d, deliveryId: d.id, attempt: number }, status, new Date(d.createdAt.getTime() + number * 1_000));

const insert = (store: DeliveryStore, ds: DeliveryRecord[]) => Promise.all(ds.map((d) => store.insertPending([d], `t:0:${d.eventId}`, d.eventId)));

/** The counts of the hour of `at` among the 24 ending now. */
async function hourAt(store: DeliveryStore, webhookId: string, at: number) {
  const hours = await store.countsByHour(WORKSPACE, webhookId, 24);
  expect(hours).toHaveLength(24);
  const hour = hours.find((h) => h.start.getTime() === Math.floor(at / HOUR) * HOUR);
  const { start: _start, ...counts } = hour!;
  return counts;
}

describe('counts per hour', () => {
  it('follow inserts and outcomes, and a repeated or late outcome changes nothing', async () => {
    const store = new DeliveryStore(db);
    await store.ensureIndexes();
    const now = Date.now();
    const webhookId = 'whk_countsAAAAAAAAAAAAAAAAAA';
    const [a, b, c, d] = [delivery(webhookId, now), delivery(webhookId, now), delivery(webhookId, now - 2 * HOUR), delivery(webhookId, now)];
    await insert(store, [a!, b!, c!, d!]);
    await store.recordOutcomes([ended(a!, 1, 'retrying'), ended(a!, 2, 'succeeded'), ended(b!, 1, 'retrying'), ended(c!, 1, 'failed')]);
    await store.flushCounts();
    expect(await hourAt(store, webhookId, now)).toEqual({ succeeded: 1, retrying: 1, pending: 1, failed: 0 });
    expect(await hourAt(store, webhookId, now - 2 * HOUR)).toEqual({ succeeded: 0, retrying: 0, pending: 0, failed: 1 });

    // Written again (an answer lost), and an earlier attempt's outcome arriving late: no change.
    await store.recordOutcomes([ended(a!, 1, 'retrying'), ended(c!, 1, 'failed')]);
    await store.flushCounts();
    const fresh = new DeliveryStore(db);
    expect(await hourAt(fresh, webhookId, now)).toEqual({ succeeded: 1, retrying: 1, pending: 1, failed: 0 });
    // Another webhook, and another workspace, count apart.
    expect(await hourAt(fresh, 'whk_countsBBBBBBBBBBBBBBBBBB', now)).toEqual({ succeeded: 0, retrying: 0, pending: 0, failed: 0 });
    expect((await fresh.countsByHour('another-ws', webhookId, 24)).every((h) => h.pending + h.succeeded + h.retrying + h.failed === 0)).toBe(true);
    await store.close();
  });

  it('keeps what two processes write to the same hour at once', async () => {
    const [one, two] = [new DeliveryStore(db), new DeliveryStore(db)];
    const now = Date.now();
    const webhookId = 'whk_countsCCCCCCCCCCCCCCCCCC';
    const first = Array.from({ length: 40 }, () => delivery(webhookId, now));
    const second = Array.from({ length: 40 }, () => delivery(webhookId, now));
    await Promise.all([insert(one, first), insert(two, second)]);
    // Rounds of writes side by side, each store flushing its own.
    for (let round = 0; round < 4; round++) {
      await Promise.all([
        one.recordOutcomes(first.slice(round * 10, round * 10 + 10).map((d) => ended(d, 1, 'succeeded'))),
        two.recordOutcomes(second.slice(round * 10, round * 10 + 10).map((d) => ended(d, 1, 'failed'))),
      ]);
      await Promise.all([one.flushCounts(), two.flushCounts()]);
    }
    expect(await hourAt(new DeliveryStore(db), webhookId, now)).toEqual({ succeeded: 40, retrying: 0, pending: 0, failed: 40 });
  });

  it('spreads a busy hour over several documents of each writer, still counted once per delivery', async () => {
    const store = new DeliveryStore(db);
    const now = Date.now();
    const webhookId = 'whk_countsEEEEEEEEEEEEEEEEEE';
    // More than one writer's round of documents (5,000 deliveries): the outcomes land in the next round.
    const many = Array.from({ length: 6_000 }, () => delivery(webhookId, now));
    for (let i = 0; i < many.length; i += 1_000) {
      await store.insertPending(many.slice(i, i + 1_000), `t:0:busy${i}`, 'busy');
      await store.flushCounts();
    }
    await store.recordOutcomes(many.slice(0, 3_500).map((d) => ended(d, 1, 'succeeded')));
    await store.flushCounts();
    expect(await hourAt(new DeliveryStore(db), webhookId, now)).toEqual({ succeeded: 3_500, retrying: 0, pending: 2_500, failed: 0 });
    // One collection per hour; each shard's documents named after it.
    const [hour, shard] = partitionOf(many[0]!.id, webhookId).split('_');
    const ids = (await db.collection(`delivery_counts_${hour}`).find({}, { projection: { _id: 1 } }).toArray()).map((d) => String(d._id));
    expect(ids.filter((id) => id.startsWith(`${shard}-`)).length).toBeGreaterThan(2);
    await store.close();
  });

  it('writes only what changed since the last write, even while notes keep coming, and folds many small writes into one', async () => {
    const counts = new DeliveryCounts(db, { recount: async () => null, storedHours: async () => [] });
    const now = Date.now();
    const webhookId = 'whk_countsFFFFFFFFFFFFFFFFFF';
    const ids = Array.from({ length: 3_000 }, () => newDeliveryId(now));
    const partition = partitionOf(ids[0]!, webhookId);
    const [hour, shard] = partition.split('_');
    const sizes = async () => {
      const docs = await db.collection(`delivery_counts_${hour}`).find({ _id: { $regex: `^${shard}-` } as never }).toArray();
      return docs.map((d) => String(d.w[WORKSPACE]?.[webhookId] ?? '').split(',').filter(Boolean).length).filter((n) => n > 0);
    };
    // As under steady traffic, notes arrive while each write is under way.
    for (let i = 0; i < ids.length; i += 300) {
      const writing = counts.flush();
      await Promise.resolve();
      await Promise.resolve();
      counts.note(partition, ids.slice(i, i + 300).map((deliveryId) => ({ workspace: WORKSPACE, webhookId, deliveryId, rank: 0 })));
      await writing;
    }
    await counts.flush();
    expect(await sizes()).toEqual(Array(10).fill(300));
    // A trickle: one change per write; after 30 documents they are folded into one.
    for (let i = 0; i < 40; i++) {
      counts.note(partition, [{ workspace: WORKSPACE, webhookId, deliveryId: ids[i]!, rank: stateRank(1, 'succeeded') }]);
      await counts.flush();
    }
    await counts.close();
    const after = await sizes();
    // 10 + 40 written: the first 30 folded into one, 20 written since.
    expect(after.length).toBe(21);
    expect(Math.max(...after)).toBeGreaterThanOrEqual(3_000);
    expect(await hourAt(new DeliveryStore(db), webhookId, now)).toMatchObject({ pending: 2_960, succeeded: 40 });
  });

  it('counts an hour stored before counts were kept from its records, once, and writes the count back', async () => {
    const now = Date.now();
    const webhookId = 'whk_countsDDDDDDDDDDDDDDDDDD';
    const before = new DeliveryStore(older);
    const ds = [delivery(webhookId, now - 3 * HOUR), delivery(webhookId, now - 3 * HOUR), delivery(webhookId, now - 3 * HOUR)];
    await insert(before, ds);
    await before.recordOutcomes([ended(ds[0]!, 1, 'succeeded'), ended(ds[1]!, 1, 'retrying')]);
    await before.close();
    // As an earlier version left it: the records, no counts.
    for (const c of await older.listCollections({}, { nameOnly: true }).toArray()) if (c.name.startsWith('delivery_counts')) await older.dropCollection(c.name);

    const store = new DeliveryStore(older);
    await store.ensureIndexes();
    const partition = partitionOf(ds[0]!.id, webhookId);
    expect(partition.slice(0, 10)).toBe(hourOf(now - 3 * HOUR));
    expect(await hourAt(store, webhookId, now - 3 * HOUR)).toEqual({ succeeded: 1, retrying: 1, pending: 1, failed: 0 });
    const written = await older.collection(`delivery_counts_${partition.slice(0, 10)}`).find({}).toArray();
    expect(written.map((d) => d._id)).toEqual([`${partition.slice(11)}-records`]);
    // What happens afterwards is noted as usual and read beside the count.
    await store.recordOutcomes([ended(ds[1]!, 2, 'failed'), ended(ds[2]!, 1, 'succeeded')]);
    await store.flushCounts();
    expect(await hourAt(new DeliveryStore(older), webhookId, now - 3 * HOUR)).toEqual({ succeeded: 2, retrying: 0, pending: 0, failed: 1 });
    await store.close();
  });

  it('reads what is being written: a read while a write is on its way counts every delivery noted', async () => {
    // Each insert of counts is held until let go, as a slow server would.
    let letGo = () => {};
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let inserts = 0;
    const slow = wrapCollectionMethod(db, (name) => name.startsWith('delivery_counts_'), 'insertOne', (insertOne) => async (...args) => {
      inserts++;
      await held;
      return insertOne(...args);
    });
    const counts = new DeliveryCounts(slow, { recount: async () => null, storedHours: async () => [] });
    await counts.summariesBegan();
    const webhookId = 'whk_countsGGGGGGGGGGGGGGGGGG';
    const now = Date.now();
    const [a, b] = [delivery(webhookId, now), delivery(webhookId, now)];
    const partition = partitionOf(a!.id, webhookId);
    counts.note(partition, [a!, b!].map((d) => ({ workspace: WORKSPACE, webhookId, deliveryId: d.id, rank: stateRank(0, 'pending') })));
    counts.note(partition, [{ workspace: WORKSPACE, webhookId, deliveryId: a!.id, rank: stateRank(1, 'succeeded') }]);
    const current = async () => (await counts.byHour(WORKSPACE, webhookId, 1, now))[0]!;
    // The first write of what was noted goes at once (the next a second after it).
    await until('the write to be on its way', () => (inserts === 1 ? true : undefined), 5_000);
    expect(await current()).toMatchObject({ succeeded: 1, pending: 1, retrying: 0, failed: 0 });
    letGo();
    await counts.flush();
    expect(inserts).toBe(1);
    expect(await current()).toMatchObject({ succeeded: 1, pending: 1, retrying: 0, failed: 0 });
    await counts.close();
  });
});
