import type { Collection, Db, Filter } from 'mongodb';
import { duplicatesOf } from './mongo.js';
import { Batcher } from '../pipeline/batcher.js';
import { currentState, matchedDelivery, newestOutcome } from '../pipeline/delivery-state.js';
import { afterCursor, encodeCursor, NEWEST_FIRST } from './paging.js';
import type {
  DeliveryFilter,
  DeliveryOutcome,
  DeliveryReader,
  DeliveryRecord,
  DeliveryStatus,
  DeliveryWriter,
  EventBodies,
  Page,
  PendingInsert,
} from '../pipeline/ports.js';

/** A delivery as matched; never changed afterwards. */
type DeliveryDoc = Pick<DeliveryRecord, 'workspace' | 'webhookId' | 'eventId' | 'eventType' | 'agent' | 'createdAt'> & {
  _id: string;
  source: string;
};
/**
 * The body every delivery of one event carries, stored once however many webhooks it goes to,
 * with the record it came from and its digest (type, agent and data), so a second event that
 * reuses the id is told apart from a resend of the same one.
 */
type PayloadDoc = { _id: string; workspace: string; eventId: string; payload: string; createdAt: Date; source?: string; digest?: string };
/** What the batched insert takes: one delivery and its event's body. */
type NewDelivery = { doc: DeliveryDoc; payload: string; digest: string };
/**
 * Per delivery, what the batched write did: inserted; not inserted because its (webhook, event)
 * pair or its event's body is stored already (the caller looks, outside the shared write); or
 * refused because another event in the same write has its id with another body.
 */
type InsertResult = { kind: 'inserted' } | { kind: 'pair-exists' } | { kind: 'body-exists' } | { kind: 'conflict'; firstSource: string };
type OutcomeDoc = Omit<DeliveryOutcome, 'id'> & { _id: string };

export interface Settlement {
  total: number;
  byStatus: Record<DeliveryStatus, number>;
  /** Every delivery not (yet) succeeded. */
  unsettled: Array<{ id: string; status: DeliveryStatus; nextAttemptAt: Date | null }>;
}

/** Deliveries per chunk of a bulk read (recovery, redrive): bounds the memory and each outcomes read. */
const BULK_CHUNK = 500;
/** Deliveries read per round while a status filter looks for a page's worth of matches. */
const FILTER_CHUNK = 200;
/** A filtered page stops after reading this many deliveries and returns what it found, with a cursor. */
const FILTER_SCAN_LIMIT = 10_000;

const toDoc = (record: DeliveryRecord, source: string): DeliveryDoc => ({
  _id: record.id,
  workspace: record.workspace,
  webhookId: record.webhookId,
  eventId: record.eventId,
  eventType: record.eventType,
  agent: record.agent,
  createdAt: record.createdAt,
  source,
});

const payloadKey = (workspace: string, eventId: string) => `${workspace}/${eventId}`;

const asMatched = ({ _id, source: _source, ...doc }: DeliveryDoc, payload = ''): DeliveryRecord => matchedDelivery({ ...doc, id: _id, payload });

const toOutcome = ({ _id, ...doc }: OutcomeDoc): DeliveryOutcome => ({ ...doc, id: _id });

/**
 * Deliveries, their outcomes and their events' bodies. The hot path only inserts: a delivery
 * (and its event's body, once per event) when it is matched, an outcome when an attempt ends.
 * Reads fold them together (pipeline/delivery-state.ts). Inserts stay
 * fast however large the collections grow, on FerretDB too, whose SQLite backend scans a table
 * for every update, even by `_id`.
 */
export class DeliveryStore implements DeliveryReader, DeliveryWriter, EventBodies {
  private readonly deliveries: Collection<DeliveryDoc>;
  private readonly outcomes: Collection<OutcomeDoc>;
  private readonly payloads: Collection<PayloadDoc>;
  private readonly newDeliveries: Batcher<NewDelivery, InsertResult>;
  private readonly newOutcomes: Batcher<DeliveryOutcome>;

  constructor(db: Db) {
    this.deliveries = db.collection<DeliveryDoc>('deliveries');
    this.outcomes = db.collection<OutcomeDoc>('delivery_outcomes');
    this.payloads = db.collection<PayloadDoc>('event_payloads');
    // One insert for many events' deliveries, and one for many finished attempts: FerretDB
    // writes one command at a time, so a few large inserts go much faster than many small ones.
    this.newDeliveries = new Batcher((batch) => this.insertDeliveries(batch), { maxItems: 500, maxDelayMs: 2 });
    this.newOutcomes = new Batcher((batch) => this.insertOutcomes(batch), { maxItems: 500, maxDelayMs: 5 });
  }

  async ensureIndexes(): Promise<void> {
    await this.deliveries.createIndex({ webhookId: 1, eventId: 1 }, { unique: true, name: 'webhook_event_unique' });
    await this.deliveries.createIndex({ workspace: 1, webhookId: 1, createdAt: -1, _id: -1 }, { name: 'by_webhook_newest' });
    await this.outcomes.createIndex({ deliveryId: 1 }, { name: 'by_delivery' });
  }

  async insertPending(records: DeliveryRecord[], source: string, digest: string): Promise<PendingInsert> {
    if (records.length === 0) return { existing: [] };
    const docs = records.map((record) => toDoc(record, source));
    const results = await this.newDeliveries.submit(...docs.map((doc, i) => ({ doc, payload: records[i]!.payload, digest })));
    const conflict = results.find((r) => r.kind === 'conflict');
    if (conflict) return { existing: [], conflictWith: conflict.firstSource };

    // What is left is rare (a resend, a replayed record, an id used twice) and may need a scan on
    // FerretDB: it is read here, by this caller alone, never while holding the write every
    // workspace's new deliveries go through.
    const pairExists = docs.filter((_, i) => results[i]!.kind === 'pair-exists');
    const bodyExists = docs.filter((_, i) => results[i]!.kind === 'body-exists');
    if (bodyExists.length > 0) {
      const keys = [...new Set(bodyExists.map((d) => payloadKey(d.workspace, d.eventId)))];
      const firsts = await this.payloads.find({ _id: { $in: keys } }, { projection: { payload: 0 } }).toArray();
      // Bodies stored before digests were kept are taken as the same event.
      const other = firsts.find((first) => first.digest !== undefined && first.digest !== digest);
      if (other) return { existing: [], conflictWith: other.source ?? '' };
      const refused = await duplicatesOf(this.deliveries.insertMany(bodyExists, { ordered: false }));
      pairExists.push(...refused.map((i) => bodyExists[i]!));
    }
    if (pairExists.length === 0) return { existing: [] };
    const pair = (doc: DeliveryDoc) => `${doc.webhookId}\u0000${doc.eventId}`;
    const stored = await this.deliveries.find({ eventId: { $in: [...new Set(pairExists.map((d) => d.eventId))] } }).toArray();
    const byPair = new Map(stored.map((doc) => [pair(doc), doc]));
    const existing = pairExists.map((doc) => {
      const found = byPair.get(pair(doc));
      if (!found) throw new Error(`delivery ${doc._id} was refused as a duplicate, yet its (webhook, event) pair is not stored`);
      return found;
    });
    // Queued again by the matcher, so they need their body.
    const states = await this.withOutcomes(existing, { payloads: true });
    return { existing: states.map((state, i) => ({ ...state, source: existing[i]!.source ?? '' })) };
  }

  async bodyOf(workspace: string, eventId: string): Promise<string | null> {
    return (await this.payloads.findOne({ _id: payloadKey(workspace, eventId) }))?.payload ?? null;
  }

  /** One insert of many events' bodies and one of their deliveries; nothing here reads. */
  private async insertDeliveries(batch: NewDelivery[]): Promise<InsertResult[]> {
    const results: InsertResult[] = batch.map(() => ({ kind: 'inserted' }));
    // Bodies first: a delivery is never readable without its body.
    const bodies = new Map<string, PayloadDoc>();
    batch.forEach(({ doc, payload, digest }, i) => {
      const _id = payloadKey(doc.workspace, doc.eventId);
      const first = bodies.get(_id);
      if (!first) bodies.set(_id, { _id, workspace: doc.workspace, eventId: doc.eventId, payload, createdAt: doc.createdAt, source: doc.source, digest });
      else if (first.digest !== digest) results[i] = { kind: 'conflict', firstSource: first.source ?? '' };
    });
    const ids = [...bodies.keys()];
    const storedBefore = new Set((await duplicatesOf(this.payloads.insertMany([...bodies.values()], { ordered: false }))).map((i) => ids[i]!));
    batch.forEach(({ doc }, i) => {
      if (results[i]!.kind === 'inserted' && storedBefore.has(payloadKey(doc.workspace, doc.eventId))) results[i] = { kind: 'body-exists' };
    });

    const accepted = batch.flatMap(({ doc }, i) => (results[i]!.kind === 'inserted' ? [{ doc, i }] : []));
    if (accepted.length === 0) return results;
    const refused = await duplicatesOf(this.deliveries.insertMany(accepted.map((a) => a.doc), { ordered: false }));
    for (const j of refused) results[accepted[j]!.i] = { kind: 'pair-exists' };
    return results;
  }

  recordOutcomes(outcomes: DeliveryOutcome[]): Promise<void> {
    return this.newOutcomes.add(...outcomes);
  }

  private async insertOutcomes(outcomes: DeliveryOutcome[]): Promise<void> {
    // Written already by an earlier try whose answer was lost: the same outcome, stored once.
    await duplicatesOf(this.outcomes.insertMany(
      outcomes.map(({ id, ...rest }) => ({ _id: id, ...rest })),
      { ordered: false },
    ));
  }

  async list(
    workspace: string,
    webhookId: string,
    filter: DeliveryFilter,
    pageSize: number,
    cursor: string,
  ): Promise<Page<DeliveryRecord>> {
    const base: Filter<DeliveryDoc> = { workspace, webhookId };
    if (filter.eventType) base.eventType = filter.eventType;
    const read = async (after: string, limit: number) => {
      const docs = await this.deliveries
        .find({ ...base, ...afterCursor<DeliveryDoc>(after) })
        .sort(NEWEST_FIRST)
        .limit(limit)
        .toArray();
      return this.withOutcomes(docs, { attempts: false });
    };
    if (!filter.status) {
      const states = await read(cursor, pageSize + 1);
      const items = states.slice(0, pageSize);
      return { items, nextCursor: states.length > pageSize ? cursorOf(items[items.length - 1]!) : '' };
    }

    // The status is derived, so a filtered page reads newest first until it has enough.
    const items: DeliveryRecord[] = [];
    let after = cursor;
    for (let scanned = 0; scanned < FILTER_SCAN_LIMIT; ) {
      const chunk = await read(after, FILTER_CHUNK);
      scanned += chunk.length;
      for (const state of chunk) {
        if (state.status !== filter.status) continue;
        if (items.length === pageSize) return { items, nextCursor: cursorOf(items[items.length - 1]!) };
        items.push(state);
      }
      const last = chunk[chunk.length - 1];
      if (chunk.length < FILTER_CHUNK || !last) return { items, nextCursor: '' };
      after = cursorOf(last);
    }
    // Read as far as one request may: the caller goes on from here.
    return { items, nextCursor: after };
  }

  async get(workspace: string, webhookId: string, deliveryId: string): Promise<DeliveryRecord | null> {
    const doc = await this.deliveries.findOne({ _id: deliveryId, workspace, webhookId });
    if (!doc) return null;
    const [state] = await this.withOutcomes([doc], { payloads: true });
    return state ?? null;
  }

  async *failedDeliveries(workspace: string, webhookId: string, since: Date, until: Date): AsyncIterable<DeliveryRecord[]> {
    // One query through its cursor (one collection scan on FerretDB, however many chunks), and
    // per chunk one read of its outcomes, so that each chunk's statuses are current.
    const cursor = this.deliveries
      .find({ workspace, webhookId, createdAt: { $gte: since, $lt: until } })
      .sort({ createdAt: 1, _id: 1 })
      .batchSize(BULK_CHUNK);
    const failed = async (docs: DeliveryDoc[]) => (await this.withOutcomes(docs)).filter((d) => d.status === 'failed');
    try {
      let chunk: DeliveryDoc[] = [];
      for await (const doc of cursor) {
        chunk.push(doc);
        if (chunk.length < BULK_CHUNK) continue;
        yield await failed(chunk);
        chunk = [];
      }
      if (chunk.length > 0) yield await failed(chunk);
    } finally {
      await cursor.close();
    }
  }

  async byIds(deliveryIds: string[]): Promise<DeliveryRecord[]> {
    const found: DeliveryRecord[] = [];
    for (let i = 0; i < deliveryIds.length; i += BULK_CHUNK) {
      const docs = await this.deliveries.find({ _id: { $in: deliveryIds.slice(i, i + BULK_CHUNK) } }).toArray();
      found.push(...(await this.withOutcomes(docs)));
    }
    return found;
  }

  /** Every delivery of events whose id starts with `eventIdPrefix`, counted by status (for operators and benchmarks). */
  async settlement(eventIdPrefix = ''): Promise<Settlement> {
    const match = eventIdPrefix ? { eventId: { $regex: `^${eventIdPrefix.replace(/[^A-Za-z0-9_-]/g, '\\$&')}` } } : {};
    const [docs, outcomes] = await Promise.all([
      this.deliveries.find(match, { projection: { _id: 1 } }).toArray(),
      this.outcomes.find(match, { projection: { attempt: 0 } }).toArray(),
    ]);
    const byDelivery = groupBy(outcomes.map(toOutcome), (o) => o.deliveryId);
    const byStatus: Record<DeliveryStatus, number> = { pending: 0, succeeded: 0, retrying: 0, failed: 0 };
    const unsettled: Settlement['unsettled'] = [];
    for (const { _id } of docs) {
      const newest = newestOutcome(byDelivery.get(_id) ?? []);
      const status = newest?.status ?? 'pending';
      byStatus[status]++;
      if (status !== 'succeeded') unsettled.push({ id: _id, status, nextAttemptAt: newest?.nextAttemptAt ?? null });
    }
    return { total: docs.length, byStatus, unsettled };
  }

  private async withOutcomes(docs: DeliveryDoc[], { attempts = true, payloads = false } = {}): Promise<DeliveryRecord[]> {
    if (docs.length === 0) return [];
    const [outcomes, bodies] = await Promise.all([
      this.outcomes
        .find({ deliveryId: { $in: docs.map((d) => d._id) } }, attempts ? {} : { projection: { 'attempt.responseBodyExcerpt': 0 } })
        .toArray(),
      payloads ? this.payloads.find({ _id: { $in: [...new Set(docs.map((d) => payloadKey(d.workspace, d.eventId)))] } }).toArray() : [],
    ]);
    const byDelivery = groupBy(outcomes.map(toOutcome), (o) => o.deliveryId);
    const bodyOf = new Map(bodies.map((b) => [b._id, b.payload]));
    return docs.map((doc) => {
      const state = currentState(asMatched(doc, bodyOf.get(payloadKey(doc.workspace, doc.eventId))), byDelivery.get(doc._id) ?? []);
      return attempts ? state : { ...state, attempts: [] };
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.newDeliveries.flush().catch(() => {}), this.newOutcomes.flush().catch(() => {})]);
  }
}

const cursorOf = (state: DeliveryRecord): string => encodeCursor(state.createdAt, state.id);

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
