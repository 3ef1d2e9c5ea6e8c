import type { Collection, Db, Document, Filter } from 'mongodb';
import { deliveryPackId, packIdOf, packMemberId, PACK_MEMBERS_MAX } from '../domain/ids.js';
import { insertNew, readAll } from './mongo.js';
import { Batcher, type BatcherOptions } from '../pipeline/batcher.js';
import { currentState, matchedDelivery, newestOutcome, rankOf, stateRank } from '../pipeline/delivery-state.js';
import type { Logger } from '../log/logger.js';
import { DeliveryCounts, type RankEntry } from './delivery-counts.js';
import { afterPosition, decodeCursor, encodeCursor, NEWEST_FIRST } from './paging.js';
import { fanOutPartOf, HOUR_MS, hourOf, partitionOf, partitionOfId, Partitions, shardOf, shardsOf, startOf, timeOfId } from './partitions.js';
import type {
  AttemptRecord,
  DeliveryFilter,
  DeliveryOutcome,
  DeliveryReader,
  DeliveryRecord,
  DeliveryStatus,
  DeliveryWriter,
  EventBodies,
  HourCounts,
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
type PayloadDoc = { _id: string; workspace: string; eventId: string; payload: string; createdAt: Date; source?: string; digest?: string; packed?: true };
/**
 * The deliveries of one later part of a large fan-out (FANOUT_PART) in one hour's shard, in one
 * document: they differ only in their webhook, and FerretDB's cost is per document and field
 * (README: Performance). Member i is `ids[i]` for `webhookIds[i]`. Its id is the pack's and i
 * (domain/ids.ts), and the pack's id is named after the event's record, part and shard, which a
 * webhook's id alone decides (fanOutPartOf, shardOf): a process that matches the same record
 * again, with the same webhooks or others, writes each webhook's delivery under the same pack's
 * name, and is told it is stored.
 */
type PackDoc = Omit<DeliveryDoc, '_id' | 'webhookId'> & { _id: string; ids: string[]; webhookIds: string[] };
/**
 * What the batched insert takes: one delivery and its event's body, or a pack of deliveries.
 * `bodyStored`: an earlier part of the same fan-out stored the body as new, so this one skips it;
 * `bodyOnly`: the body alone (a first part with no delivery); `packed`: the body records that the
 * later parts are packs.
 */
type NewDelivery = { doc: DeliveryDoc; payload: string; digest: string; bodyStored?: boolean; bodyOnly?: boolean; packed?: boolean };
/** A pack comes after its event's body was stored: its first part's. */
type NewPack = { pack: PackDoc; partition: string };
type NewItem = NewDelivery | NewPack;
const isPack = (item: NewItem): item is NewPack => 'pack' in item;
/**
 * Per delivery, what the batched write did: inserted; not inserted because its (webhook, event)
 * pair or its event's body is stored already (the caller looks, outside the shared write); or
 * refused because another event in the same write has its id with another body.
 */
type InsertResult = { kind: 'inserted' } | { kind: 'pair-exists' } | { kind: 'body-exists' } | { kind: 'conflict'; firstSource: string };
/**
 * An outcome as stored: FerretDB spends its time on each field it writes (6–10 µs of a
 * 56–62 µs insert went to the four below), so what a reader can fill in is left out: the attempt's
 * number (the outcome's own), an empty error or excerpt, a manual flag that is false, and a next
 * attempt that is null. Outcomes stored before carry them all and read the same.
 */
type StoredAttempt = Omit<AttemptRecord, 'number' | 'error' | 'manual' | 'responseBodyExcerpt'> & Partial<AttemptRecord>;
type OutcomeDoc = Omit<DeliveryOutcome, 'id' | 'nextAttemptAt' | 'attempt'> & { _id: string; nextAttemptAt?: Date | null; attempt?: StoredAttempt };

export interface Settlement {
  total: number;
  byStatus: Record<DeliveryStatus, number>;
  /** Every delivery not (yet) succeeded. */
  unsettled: Array<{ id: string; status: DeliveryStatus; nextAttemptAt: Date | null }>;
}

/** Deliveries per chunk of a bulk read (recovery, redrive): bounds the memory and each outcomes read. */
const BULK_CHUNK = 500;
/**
 * A fan-out to more webhooks than this is inserted in five parts (fanOutPartOf), about 5% of it
 * first and each next part about twice the one before, every part handed on as it lands: the
 * first POSTs go out after a small insert, not after the whole fan-out, and 1,000 deliveries
 * still take only five inserts.
 */
export const FANOUT_PART = 50;

/**
 * A record's parts, as indices into `records`: all in one when its later parts are not packs,
 * else by each webhook's part (fanOutPartOf), which the webhook's id alone decides. Whether they
 * are packs is decided by the process that stores the event's body, and written in it: every
 * other process that matches the same record follows it, whatever webhooks it matched.
 */
function partsOf(records: DeliveryRecord[], packed: boolean): number[][] {
  if (!packed) return [records.map((_, i) => i)];
  const parts: number[][] = [[], [], [], [], []];
  records.forEach((record, i) => parts[fanOutPartOf(record.webhookId)]!.push(i));
  return parts;
}
/**
 * A page starts no further hour once it has read this many, or read for this long, and returns
 * what it found with a cursor to go on from: a quiet webhook, or a status filter that few
 * deliveries match, answers within a bounded time however far back its matches are.
 */
const PAGE_SCAN_HOURS = 24;
const PAGE_SCAN_MS = 300;
/** Records of one kind copied per write when records kept in single collections are moved into hours. */
const CONVERT_CHUNK = 1_000;

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

const memberAt = (pack: PackDoc, i: number): DeliveryDoc => ({
  _id: pack.ids[i]!,
  workspace: pack.workspace,
  webhookId: pack.webhookIds[i]!,
  eventId: pack.eventId,
  eventType: pack.eventType,
  agent: pack.agent,
  createdAt: pack.createdAt,
  source: pack.source,
});

/** A pack's deliveries as the documents they would be one by one. */
const membersOf = (pack: PackDoc): DeliveryDoc[] => pack.ids.map((_, i) => memberAt(pack, i));

/** The delivery of `webhookId` in a pack (a pack holds one delivery of each webhook at most). */
function memberFor(pack: PackDoc, webhookId: string): DeliveryDoc | null {
  const i = pack.webhookIds.indexOf(webhookId);
  return i < 0 ? null : memberAt(pack, i);
}

/** Documents by `_id`: one alone by the exact `_id` read that FerretDB narrows, more in one `$in` read. */
async function byIdsIn<T extends { _id: string }>(collection: Collection<T>, ids: string[]): Promise<T[]> {
  if (ids.length !== 1) return (await readAll(collection.find({ _id: { $in: ids } } as Filter<T>))) as T[];
  const one = await collection.findOne({ _id: ids[0]! } as Filter<T>);
  return one === null ? [] : [one as T];
}

/** Newest first, as NEWEST_FIRST sorts. */
const newestFirst = (a: DeliveryDoc, b: DeliveryDoc) => b.createdAt.getTime() - a.createdAt.getTime() || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0);

const asMatched = (doc: DeliveryDoc, payload = ''): DeliveryRecord =>
  matchedDelivery({ id: doc._id, workspace: doc.workspace, webhookId: doc.webhookId, eventId: doc.eventId, eventType: doc.eventType, agent: doc.agent, createdAt: doc.createdAt, payload });

type OutcomeFields = Pick<DeliveryOutcome, 'deliveryId' | 'workspace' | 'webhookId' | 'eventId' | 'number' | 'status' | 'recordedAt' | 'lastError'>;

/**
 * What an outcome and its document hold alike, copied field by field as in matchedDelivery
 * (pipeline/delivery-state.ts): an outcome is written per attempt made, and a page's read folds
 * every outcome of its hours (2.2 µs each with spreads, 0.08 µs so).
 */
function outcomeFields(from: OutcomeFields): OutcomeFields {
  const fields: OutcomeFields = {
    deliveryId: from.deliveryId,
    workspace: from.workspace,
    webhookId: from.webhookId,
    eventId: from.eventId,
    number: from.number,
    status: from.status,
    recordedAt: from.recordedAt,
  };
  if (from.lastError !== undefined) fields.lastError = from.lastError;
  return fields;
}

function toOutcomeDoc(outcome: DeliveryOutcome): OutcomeDoc {
  const doc = outcomeFields(outcome) as OutcomeDoc;
  doc._id = outcome.id;
  if (outcome.nextAttemptAt !== null) doc.nextAttemptAt = outcome.nextAttemptAt;
  const { attempt } = outcome;
  if (attempt) {
    const stored: StoredAttempt = { startedAt: attempt.startedAt, durationMs: attempt.durationMs, responseStatus: attempt.responseStatus };
    if (attempt.number !== outcome.number) stored.number = attempt.number;
    if (attempt.error !== '') stored.error = attempt.error;
    if (attempt.manual) stored.manual = attempt.manual;
    if (attempt.responseBodyExcerpt !== '') stored.responseBodyExcerpt = attempt.responseBodyExcerpt;
    doc.attempt = stored;
  }
  return doc;
}

/** toOutcomeDoc's inverse: what it left out filled back in. */
function toOutcome(doc: OutcomeDoc): DeliveryOutcome {
  const outcome = outcomeFields(doc) as DeliveryOutcome;
  outcome.id = doc._id;
  outcome.nextAttemptAt = doc.nextAttemptAt ?? null;
  const { attempt } = doc;
  if (attempt) {
    outcome.attempt = {
      number: attempt.number ?? doc.number,
      startedAt: attempt.startedAt,
      durationMs: attempt.durationMs,
      responseStatus: attempt.responseStatus,
      responseBodyExcerpt: attempt.responseBodyExcerpt ?? '',
      error: attempt.error ?? '',
      manual: attempt.manual ?? false,
    };
  }
  return outcome;
}

export interface DeliveryStoreOptions {
  /** Records older than this are removed (WEBHOOKS_RETENTION): TTL indexes on MongoDB, and `sweep()` everywhere. */
  retentionMs?: number;
  /** Where a failed write of the hourly counts is told. */
  logger?: Logger;
  /** How finished attempts gather before they are inserted together [500 items, 25 ms]. */
  outcomeBatch?: Pick<BatcherOptions, 'maxItems' | 'maxDelayMs'>;
}

/** What one retention sweep removed. */
export interface SweepResult {
  /** Hour collections dropped (deliveries, outcomes and bodies together). */
  partitions: number;
  /** Records they held. */
  records: number;
  /** The same, by kind of record. */
  removed: { deliveries: number; outcomes: number; payloads: number; counts: number };
}

/** The single collections records were kept in before they were kept by hour. */
const LEGACY = { deliveries: 'deliveries', outcomes: 'delivery_outcomes', payloads: 'event_payloads' } as const;

/**
 * Deliveries, their outcomes and their events' bodies, in collections of one UTC hour each
 * (store/partitions.ts), named by the delivery's id, and deliveries and outcomes also by their
 * webhook's shard: a delivery, its outcomes and its body share the hour its id carries, so
 * reading one delivery reads one hour of one shard, and a page of one webhook reads the newest
 * hours of its shard until it is full. The hot path only inserts (one insert per hour and
 * batch, as before): a delivery and its event's body when matched, an outcome when an attempt
 * ends. Reads fold them together (pipeline/delivery-state.ts). Retention drops whole hours.
 */
export class DeliveryStore implements DeliveryReader, DeliveryWriter, EventBodies {
  private readonly deliveries: Partitions<DeliveryDoc>;
  /** The later parts of large fan-outs (PackDoc), in the same hours and shards as the deliveries. */
  private readonly packs: Partitions<PackDoc>;
  private readonly outcomes: Partitions<OutcomeDoc>;
  private readonly payloads: Partitions<PayloadDoc>;
  private readonly newDeliveries: Batcher<NewItem, InsertResult>;
  private readonly newOutcomes: Batcher<DeliveryOutcome>;
  /**
   * Deliveries of (webhook, event) pairs refused as stored, as they stand. A restart reads again
   * every record not yet committed, and on FerretDB each read here scans the hour's shard: the
   * records that ask while one read runs share the next one instead of taking one scan each.
   */
  private readonly storedPairs: Batcher<DeliveryDoc, StoredPair | null>;
  /** The same for the bodies of events found stored already (without the body itself). */
  private readonly storedBodies: Batcher<DeliveryDoc, PayloadDoc | null>;
  /** Per hour and shard, each delivery's state, for counts per hour (the dashboard's chart). */
  private readonly counts: DeliveryCounts;
  /** MongoDB: indexes serve every query and TTL indexes expire old records; FerretDB has neither use nor TTL. */
  private server: Promise<{ mongodb: boolean }> | undefined;

  constructor(
    private readonly db: Db,
    private readonly options: DeliveryStoreOptions = {},
  ) {
    const ttl = (field: string) => (options.retentionMs ? [{ key: { [field]: 1 }, name: `${field}_ttl`, expireAfterSeconds: Math.ceil(options.retentionMs / 1000) }] : []);
    this.deliveries = new Partitions<DeliveryDoc>(db, LEGACY.deliveries, (c) =>
      this.indexes(c as unknown as Collection<Document>, [{ key: { webhookId: 1, eventId: 1 }, name: 'webhook_event_unique', unique: true }], [
        { key: { workspace: 1, webhookId: 1, createdAt: -1, _id: -1 }, name: 'by_webhook_newest' },
        { key: { eventId: 1 }, name: 'by_event' },
        ...ttl('createdAt'),
      ]),
    );
    this.packs = new Partitions<PackDoc>(db, 'delivery_packs', (c) =>
      this.indexes(c as unknown as Collection<Document>, [], [
        { key: { workspace: 1, webhookIds: 1, createdAt: -1, _id: -1 }, name: 'by_webhook_newest' },
        { key: { eventId: 1 }, name: 'by_event' },
        ...ttl('createdAt'),
      ]),
    );
    this.outcomes = new Partitions<OutcomeDoc>(db, LEGACY.outcomes, (c) =>
      this.indexes(c as unknown as Collection<Document>, [], [{ key: { deliveryId: 1 }, name: 'by_delivery' }, { key: { eventId: 1 }, name: 'by_event' }, ...ttl('recordedAt')]),
    );
    this.payloads = new Partitions<PayloadDoc>(db, LEGACY.payloads, (c) => this.indexes(c as unknown as Collection<Document>, [], ttl('createdAt')));
    // One insert for many events' deliveries, and one for many finished attempts: FerretDB
    // writes one command at a time, so a few large inserts go much faster than many small ones.
    // Workspaces in turn: a fan-out of thousands in parts holds another workspace's event back one write, not all its parts.
    this.newDeliveries = new Batcher((batch) => this.insertDeliveries(batch), { maxItems: 500, maxDelayMs: 0, fairBy: (d) => (isPack(d) ? d.pack.workspace : d.doc.workspace) });
    // Outcomes gather (the service: pipeline/endpoint-lanes.ts outcomeBatching): only a task's next
    // step waits for them, and FerretDB pays about 380 µs for each insert command beside 50-70 µs a
    // document (a fan-out's 4 shards split them).
    this.newOutcomes = new Batcher((batch) => this.insertOutcomes(batch), options.outcomeBatch ?? { maxItems: 500, maxDelayMs: 25 });
    // At most 500 pairs a read: FerretDB tests each stored document against every id of the `$in`.
    this.storedPairs = new Batcher((docs) => this.readStoredPairs(docs), { maxItems: 500, maxDelayMs: 0 });
    this.storedBodies = new Batcher((docs) => this.bodiesOf(docs, { payload: 0 }), { maxItems: 500, maxDelayMs: 0 });
    this.counts = new DeliveryCounts(db, { logger: options.logger, recount: (partition) => this.recount(partition), storedHours: () => this.storedPartitions(0) });
  }

  /** The hours' shards that hold deliveries, one by one or in packs, newest first (Partitions.list). */
  private async storedPartitions(maxAgeMs?: number): Promise<string[]> {
    const [singles, packs] = await Promise.all([this.deliveries.list(maxAgeMs), this.packs.list(maxAgeMs)]);
    return packs.length === 0 ? singles : [...new Set([...singles, ...packs])].sort().reverse();
  }

  private isMongoDb(): Promise<{ mongodb: boolean }> {
    this.server ??= this.db.command({ buildInfo: 1 }).then((info) => ({ mongodb: !info.ferretdbVersion }));
    return this.server;
  }

  /** `always` everywhere; `mongodb` only where an index is used (FerretDB's SQLite backend scans instead, and each index costs its writes). */
  private async indexes(collection: Collection<Document>, always: IndexSpec[], mongodb: IndexSpec[]): Promise<void> {
    const specs = [...always, ...((await this.isMongoDb()).mongodb ? mongodb : [])];
    if (specs.length > 0) await collection.createIndexes(specs);
  }

  /** Prepares the store: records kept in the single collections of earlier versions are moved into hours once. */
  async ensureIndexes(): Promise<void> {
    await this.isMongoDb();
    await this.convertLegacy();
    // After the move: hours holding records from before counts were kept are counted from them when read.
    await this.counts.summariesBegan();
  }

  async insertPending(records: DeliveryRecord[], source: string, digest: string, onStored?: (part: DeliveryRecord[]) => void): Promise<PendingInsert> {
    if (records.length === 0) return { existing: [] };
    // A large fan-out in parts (partsOf), each handed on as it lands, so that its tasks go out
    // while the rest is written: the first part one document a delivery, with the body (alone when
    // no webhook falls in that part); once that was all new, each later part as packs. Otherwise
    // the rest waits below until it is known whether this record may write it, and how.
    // A pack holds PACK_MEMBERS_MAX deliveries at most: a larger fan-out is stored one by one.
    const packed = onStored !== undefined && records.length > FANOUT_PART && records.length <= PACK_MEMBERS_MAX;
    const docs = records.map((record) => toDoc(record, source));
    const items = docs.map((doc, i) => ({ doc, payload: records[i]!.payload, digest, packed }));
    const [first, ...rest] = partsOf(records, packed);
    const head = first!.length > 0 ? first!.map((i) => items[i]!) : [{ ...items[0]!, bodyOnly: true }];
    const written = await this.newDeliveries.submit(...head);
    if (written.every((r) => r.kind === 'inserted')) {
      if (!packed) return { existing: [] };
      if (first!.length > 0) onStored!(first!.map((i) => records[i]!));
      const refused = await this.insertLaterParts(rest, records, source, onStored!);
      return { existing: await this.storedAlready(refused, docs, items, records) };
    }
    const conflict = written.find((r) => r.kind === 'conflict');
    if (conflict) return { existing: [], conflictWith: conflict.firstSource };

    // What is left is rare (a resend, a replayed record, an id used twice) and reads a whole hour
    // on FerretDB: it is read here, shared by the records that ask at the same time, never while
    // holding the write every workspace's new deliveries go through. A pair or a body is unique
    // within its hour.
    let firstPacked = packed;
    if (written.some((r) => r.kind === 'body-exists')) {
      const [stored] = await this.storedBodies.submit(docs[first![0] ?? 0]!);
      // Bodies stored before digests were kept are taken as the same event.
      if (stored?.digest !== undefined && stored.digest !== digest) return { existing: [], conflictWith: stored.source ?? '' };
      // Another record of the event (a producer's retry, a client's resend): its deliveries are not
      // looked up, which on FerretDB reads the whole hour for every duplicate (a retrying producer
      // stalled the matcher for a minute that way). The same record again still finds them, to queue
      // what a process that died left pending.
      if (stored?.source !== undefined && stored.source !== source) return { existing: [], duplicateOf: stored.source };
      // Only the matcher hands parts on (onStored), and only its records' bodies say packed.
      firstPacked = stored?.packed === true && onStored !== undefined;
    }
    // The same record again: what it stored before is looked up first, in whatever part or pack it
    // is, and what is not found is written as its first match wrote it (its body tells whether in
    // packs), so that no webhook is stored twice, whichever webhooks each match found.
    const inserted = new Set(first!.filter((_, j) => written[j]!.kind === 'inserted'));
    const asked = records.map((_, i) => i).filter((i) => !inserted.has(i));
    const before = new Map((await this.storedPairs.submit(...asked.map((i) => docs[i]!))).map((state, j) => [asked[j]!, state]));
    const missing = (i: number) => before.has(i) && !before.get(i);
    const [single, ...later] = partsOf(records, firstPacked);
    const again = single!.filter(missing);
    // Through the shared write, so that records read again together reach the look-up together.
    const rewritten = again.length > 0 ? await this.newDeliveries.submit(...again.map((i) => ({ ...items[i]!, bodyStored: true }))) : [];
    const refused = [
      ...again.filter((_, j) => rewritten[j]!.kind !== 'inserted'),
      ...(await this.insertLaterParts(later.map((part) => part.filter(missing)), records, source, onStored!)),
    ];
    const found = [...before].flatMap(([i, state]) => (state ? [{ ...state, payload: records[i]!.payload }] : []));
    return { existing: [...found, ...(await this.storedAlready(refused, docs, items, records))] };
  }

  /**
   * The deliveries of these records that a write refused as stored, as they stand, with this
   * record's body (the matcher queues them again). A pack of that name may hold other webhooks
   * (they matched otherwise the first time): those found nowhere are stored one by one, and queued
   * by the caller like any new delivery.
   */
  private async storedAlready(refused: number[], docs: DeliveryDoc[], items: NewDelivery[], records: DeliveryRecord[]): Promise<Array<StoredPair & { payload: string }>> {
    if (refused.length === 0) return [];
    const found = await this.storedPairs.submit(...refused.map((i) => docs[i]!));
    const unstored = refused.filter((_, j) => !found[j]);
    const written = unstored.length > 0 ? await this.newDeliveries.submit(...unstored.map((i) => ({ ...items[i]!, bodyStored: true }))) : [];
    // Stored one by one meanwhile by another process matching the same record: looked up too.
    const raced = unstored.filter((_, j) => written[j]!.kind !== 'inserted');
    const late = raced.length > 0 ? await this.storedPairs.submit(...raced.map((i) => docs[i]!)) : [];
    const withBody = (i: number, state: StoredPair) => ({ ...state, payload: records[i]!.payload });
    const existing = refused.flatMap((i, j) => (found[j] ? [withBody(i, found[j]!)] : []));
    raced.forEach((i, j) => {
      if (!late[j]) throw new Error(`delivery ${docs[i]!._id} was refused as a duplicate, yet its (webhook, event) pair is not stored`);
      existing.push(withBody(i, late[j]!));
    });
    return existing;
  }

  /** The later parts of a fan-out as packs, one part after the other, empty ones skipped; returns insertPacks' refused. */
  private async insertLaterParts(later: number[][], records: DeliveryRecord[], source: string, onStored: (part: DeliveryRecord[]) => void): Promise<number[]> {
    const refused: number[] = [];
    for (const [n, part] of later.entries()) if (part.length > 0) refused.push(...(await this.insertPacks(n + 1, part, records, source, onStored)));
    return refused;
  }

  /**
   * Part `n` of a fan-out as packs, one per shard, each part's new members handed on once it
   * landed (under the ids the pack gives them). Returns the indices of members whose pack was
   * stored already.
   */
  private async insertPacks(n: number, part: number[], records: DeliveryRecord[], source: string, onStored: (part: DeliveryRecord[]) => void): Promise<number[]> {
    const { id, workspace, eventId, eventType, agent, createdAt } = records[part[0]!]!;
    // The hour its deliveries' ids name (the hour of createdAt, as newDelivery makes them).
    const at = timeOfId(id);
    const hour = hourOf(at);
    const made = [...groupBy(part, (i) => String(shardOf(records[i]!.webhookId)))].map(([shard, members]) => {
      const _id = deliveryPackId(at, `${workspace}\u0000${eventId}\u0000${source}\u0000${n}\u0000${shard}`);
      const ids = members.map((_, k) => packMemberId(_id, k));
      const webhookIds = members.map((i) => records[i]!.webhookId);
      const pack: PackDoc = { _id, workspace, eventId, eventType, agent, createdAt, source, ids, webhookIds };
      return { item: { pack, partition: `${hour}_${shard}` }, members };
    });
    const written = await this.newDeliveries.submit(...made.map((m) => m.item));
    const stored: number[] = [];
    const handed: DeliveryRecord[] = [];
    made.forEach(({ item, members }, j) => {
      if (written[j]!.kind === 'inserted') members.forEach((i, k) => handed.push({ ...records[i]!, id: item.pack.ids[k]! }));
      else stored.push(...members);
    });
    if (handed.length > 0) onStored(handed);
    return stored;
  }

  /** One read of each hour's shard for the pairs of many records, and one of their outcomes. */
  private async readStoredPairs(docs: DeliveryDoc[]): Promise<Array<StoredPair | null>> {
    const pair = (doc: DeliveryDoc) => `${doc.webhookId}\u0000${doc.eventId}`;
    const stored = await Promise.all(
      [...groupBy(docs, (d) => partitionOf(d._id, d.webhookId))].map(async ([partition, group]) => {
        const query = { eventId: { $in: [...new Set(group.map((d) => d.eventId))] } };
        const [singles, packs] = await Promise.all([readAll(this.deliveries.collection(partition).find(query)), readAll(this.packs.collection(partition).find(query))]);
        return [...singles, ...packs.flatMap(membersOf)];
      }),
    );
    const byPair = new Map(stored.flat().map((doc) => [pair(doc), doc]));
    const found = [...new Set(docs.flatMap((doc) => byPair.get(pair(doc)) ?? []))];
    const states = await this.withOutcomes(found);
    const byId = new Map(found.map((doc, i) => [doc._id, { ...states[i]!, source: doc.source ?? '' }]));
    return docs.map((doc) => {
      const hit = byPair.get(pair(doc));
      return hit ? byId.get(hit._id)! : null;
    });
  }

  /**
   * The body of an event, each hour read by `_id` (the one read FerretDB narrows): the hour of
   * `deliveryId` first, where the body was stored with it (a retry a day later reads one hour, not
   * every hour newer than its own, each a scan on FerretDB), then the newest hours first, which hold
   * it only when the event was matched again later. A miss lists the hours again: another process
   * may have begun an hour since this one's listing.
   */
  async bodyOf(workspace: string, eventId: string, deliveryId?: string): Promise<string | null> {
    const read = new Set<string>();
    const hours = [async () => (deliveryId === undefined ? [] : [partitionOfId(deliveryId)]), () => this.payloads.list(1_000), () => this.payloads.list(0)];
    for (const listed of hours) {
      for (const partition of await listed()) {
        if (read.has(partition)) continue;
        read.add(partition);
        const found = await this.payloads.collection(partition).findOne({ _id: payloadKey(workspace, eventId) });
        if (found) return found.payload;
      }
    }
    return null;
  }

  /**
   * The stored bodies of these deliveries' events, in their deliveries' hours, one per delivery
   * (null where none is stored): a few by `_id` each, the read FerretDB narrows to a cheap scan,
   * and more in one read of their hour, which costs about as much as EXACT_BODY_READS of those.
   */
  private async bodiesOf(docs: DeliveryDoc[], projection: Document = {}): Promise<Array<PayloadDoc | null>> {
    const key = (partition: string, id: string) => `${partition}\u0000${id}`;
    const found = new Map<string, PayloadDoc>();
    await Promise.all(
      [...groupBy(docs, (d) => partitionOfId(d._id))].map(async ([partition, group]) => {
        const collection = this.payloads.collection(partition);
        const ids = [...new Set(group.map((d) => payloadKey(d.workspace, d.eventId)))];
        const bodies =
          ids.length <= EXACT_BODY_READS
            ? await Promise.all(ids.map((_id) => collection.findOne({ _id }, { projection })))
            : await readAll(collection.find({ _id: { $in: ids } }, { projection }));
        for (const body of bodies) if (body) found.set(key(partition, body._id), body);
      }),
    );
    return docs.map((d) => found.get(key(partitionOfId(d._id), payloadKey(d.workspace, d.eventId))) ?? null);
  }

  /** Deliveries one by one (with their events' bodies) and packs, side by side; nothing here reads. */
  private async insertDeliveries(batch: NewItem[]): Promise<InsertResult[]> {
    const results: InsertResult[] = new Array(batch.length);
    const singles: number[] = [];
    const packs: number[] = [];
    batch.forEach((item, i) => (isPack(item) ? packs : singles).push(i));
    const [one, many] = await Promise.all([
      this.insertSingles(singles.map((i) => batch[i] as NewDelivery)),
      this.insertPackDocs(packs.map((i) => batch[i] as NewPack)),
    ]);
    singles.forEach((i, j) => (results[i] = one[j]!));
    packs.forEach((i, j) => (results[i] = many[j]!));
    return results;
  }

  /** One insert per hour's shard; a pack stored already is told as its pairs would be. */
  private async insertPackDocs(packs: NewPack[]): Promise<InsertResult[]> {
    const results: InsertResult[] = packs.map(() => ({ kind: 'inserted' }));
    await Promise.all(
      [...groupBy(packs.map((p, i) => ({ ...p, i })), (p) => p.partition)].map(async ([partition, group]) => {
        const collection = await this.packs.forWrite(partition);
        const refused = await insertNew(collection, group.map((p) => p.pack));
        for (const j of refused) results[group[j]!.i] = { kind: 'pair-exists' };
        this.noteMatched(partition, group.filter((_, j) => !refused.includes(j)).flatMap((p) => membersOf(p.pack)));
      }),
    );
    return results;
  }

  /** One insert of many events' bodies and one of their deliveries per hour. */
  private async insertSingles(batch: NewDelivery[]): Promise<InsertResult[]> {
    if (batch.length === 0) return [];
    const results: InsertResult[] = batch.map(() => ({ kind: 'inserted' }));
    // Bodies first: a delivery is never readable without its body.
    const bodies = new Map<string, { partition: string; doc: PayloadDoc }>();
    const bodyKey = (doc: DeliveryDoc) => `${partitionOfId(doc._id)}\u0000${payloadKey(doc.workspace, doc.eventId)}`;
    batch.forEach(({ doc, payload, digest, bodyStored, packed }, i) => {
      if (bodyStored) return;
      const key = bodyKey(doc);
      const first = bodies.get(key);
      const _id = payloadKey(doc.workspace, doc.eventId);
      if (!first) bodies.set(key, { partition: partitionOfId(doc._id), doc: { _id, workspace: doc.workspace, eventId: doc.eventId, payload, createdAt: doc.createdAt, source: doc.source, digest, ...(packed ? { packed } : {}) } });
      else if (first.doc.digest !== digest) results[i] = { kind: 'conflict', firstSource: first.doc.source ?? '' };
      // Two records of one event in one batch: the second is a duplicate of the first, as if it came later.
      else if (first.doc.source !== doc.source) results[i] = { kind: 'body-exists' };
    });
    const storedBefore = new Set<string>();
    for (const [partition, group] of groupBy([...bodies.entries()], ([, b]) => b.partition)) {
      const collection = await this.payloads.forWrite(partition);
      for (const i of await insertNew(collection, group.map(([, b]) => b.doc))) storedBefore.add(group[i]![0]);
    }
    batch.forEach(({ doc, bodyStored }, i) => {
      if (results[i]!.kind === 'inserted' && !bodyStored && storedBefore.has(bodyKey(doc))) results[i] = { kind: 'body-exists' };
    });

    const accepted = batch.flatMap(({ doc, bodyOnly }, i) => (results[i]!.kind === 'inserted' && !bodyOnly ? [{ doc, i }] : []));
    // One insert per shard of the hour, side by side.
    await Promise.all(
      [...groupBy(accepted, (a) => partitionOf(a.doc._id, a.doc.webhookId))].map(async ([partition, group]) => {
        const collection = await this.deliveries.forWrite(partition);
        const refused = await insertNew(collection, group.map((a) => a.doc));
        for (const j of refused) results[group[j]!.i] = { kind: 'pair-exists' };
        this.noteMatched(partition, group.filter((_, j) => !refused.includes(j)).map((a) => a.doc));
      }),
    );
    return results;
  }

  /** New deliveries of one hour's shard, pending, for the hourly counts (written within a second, not waited for). */
  private noteMatched(partition: string, docs: DeliveryDoc[]): void {
    this.counts.note(partition, docs.map((d) => ({ workspace: d.workspace, webhookId: d.webhookId, deliveryId: d._id, rank: stateRank(0, 'pending') })));
  }

  recordOutcomes(outcomes: DeliveryOutcome[]): Promise<void> {
    return this.newOutcomes.add(...outcomes);
  }

  private async insertOutcomes(outcomes: DeliveryOutcome[]): Promise<void> {
    await Promise.all(
      [...groupBy(outcomes, (o) => partitionOf(o.deliveryId, o.webhookId))].map(async ([partition, group]) => {
        const collection = await this.outcomes.forWrite(partition);
        // Written already by an earlier try whose answer was lost: the same outcome, stored once.
        await insertNew(collection, group.map(toOutcomeDoc));
        this.counts.note(partition, group.map((o) => ({ workspace: o.workspace, webhookId: o.webhookId, deliveryId: o.deliveryId, rank: rankOf(o) })));
      }),
    );
  }

  countsByHour(workspace: string, webhookId: string, hours = 24, now = Date.now()): Promise<HourCounts[]> {
    return this.counts.byHour(workspace, webhookId, hours, now);
  }

  /** Each delivery of an hour's shard with the rank of its newest outcome, from the records (one read of each kind); null when none are stored. */
  private async recount(partition: string): Promise<RankEntry[] | null> {
    if (!(await this.storedPartitions()).includes(partition)) return null;
    const [singles, packs, outcomes] = await Promise.all([
      readAll(this.deliveries.collection(partition).find({}, { projection: { workspace: 1, webhookId: 1 } })),
      readAll(this.packs.collection(partition).find({}, { projection: { workspace: 1, webhookIds: 1, ids: 1 } })),
      readAll(this.outcomes.collection(partition).find({}, { projection: { deliveryId: 1, number: 1, status: 1 } })),
    ]);
    const docs = [...singles, ...packs.flatMap(membersOf)];
    const ranks = new Map<string, number>();
    for (const o of outcomes) ranks.set(o.deliveryId, Math.max(ranks.get(o.deliveryId) ?? 0, rankOf(o)));
    return docs.map((d) => ({ workspace: d.workspace, webhookId: d.webhookId, deliveryId: d._id, rank: ranks.get(d._id) ?? stateRank(0, 'pending') }));
  }

  async list(workspace: string, webhookId: string, filter: DeliveryFilter, pageSize: number, cursor: string): Promise<Page<DeliveryRecord>> {
    const at = cursor === '' ? null : decodeCursor(cursor, 'cursor');
    // A cursor names the hour to go on in: its last delivery's, or (no id) the hour before its time.
    const shard = `_${shardOf(webhookId)}`;
    const from = at === null ? null : at.id !== '' ? partitionOf(at.id, webhookId) : hourOf(at.t - 1) + shard;
    const base: Filter<DeliveryDoc> = { workspace, webhookId };
    if (filter.eventType) base.eventType = filter.eventType;
    // Hours prepared ahead (retention.ts) hold nothing yet.
    const ahead = hourOf(Date.now() + 5 * 60_000);
    const hours = (await this.storedPartitions()).filter((p) => p.endsWith(shard) && p.slice(0, 10) <= ahead && (from === null || p <= from));
    const items: DeliveryRecord[] = [];
    const started = Date.now();
    let next = 0;
    // One hour first (a busy webhook's page is in it), then as many more at once as the hours read
    // so far say the page still needs (8 at most): a quiet webhook's page spans many hours, and
    // FerretDB answers several small reads side by side.
    // The current hour counts for the part of it that has passed.
    let hoursRead = 0;
    const needed = () => Math.max(1, Math.min(8, Math.ceil((pageSize + 1 - items.length) / Math.max(items.length / hoursRead, 1))));
    for (let width = 1; next < hours.length; width = needed()) {
      if (next > 0 && (next >= PAGE_SCAN_HOURS || Date.now() - started >= PAGE_SCAN_MS)) {
        // Read as far as one request may: the caller goes on from this hour.
        return { items, nextCursor: encodeCursor(new Date(startOf(hours[next]!) + HOUR_MS), '') };
      }
      const batch = hours.slice(next, next + width);
      next += batch.length;
      for (const partition of batch) hoursRead += Math.min(1, Math.max(0.05, (started - startOf(partition)) / HOUR_MS));
      const states = await Promise.all(
        batch.map((partition) => {
          const after = partition === from && at!.id !== '';
          const query = after ? { ...base, ...afterPosition<DeliveryDoc>(at!) } : base;
          // A pack's members follow the cursor exactly when the pack's id (theirs less three characters) does.
          const packQuery: Filter<PackDoc> = { workspace, webhookIds: webhookId, ...(after ? afterPosition<PackDoc>({ t: at!.t, id: packIdOf(at!.id) }) : {}) };
          if (filter.eventType) packQuery.eventType = filter.eventType;
          // Unfiltered, the hour's newest are enough; a status filter folds the whole hour (status is derived).
          return this.statesIn(partition, query, packQuery, filter.status ? 0 : pageSize + 1 - items.length);
        }),
      );
      for (const state of states.flat()) {
        if (filter.status && state.status !== filter.status) continue;
        if (items.length === pageSize) return { items, nextCursor: cursorOf(items[items.length - 1]!) };
        items.push(state);
      }
    }
    return { items, nextCursor: '' };
  }

  /**
   * One webhook's deliveries of one hour matching `query`, newest first, as they stand (without
   * attempts). On FerretDB, which reads the whole hour for any query, its outcomes are read beside
   * them; on MongoDB, after them by delivery id through the index.
   */
  private async statesIn(partition: string, query: Filter<DeliveryDoc>, packQuery: Filter<PackDoc>, limit: number): Promise<DeliveryRecord[]> {
    const webhookId = query.webhookId as string;
    const newest = async () => {
      let singles = this.deliveries.collection(partition).find(query).sort(NEWEST_FIRST);
      let packs = this.packs.collection(partition).find(packQuery).sort(NEWEST_FIRST);
      if (limit > 0) [singles, packs] = [singles.limit(limit), packs.limit(limit)];
      const [one, many] = await Promise.all([readAll(singles), readAll(packs)]);
      if (many.length === 0) return one;
      const docs = [...one, ...many.flatMap((pack) => memberFor(pack, webhookId) ?? [])].sort(newestFirst);
      return limit > 0 ? docs.slice(0, limit) : docs;
    };
    if ((await this.isMongoDb()).mongodb) return this.withOutcomes(await newest(), { attempts: false });
    const [docs, outcomes] = await Promise.all([
      newest(),
      readAll(this.outcomes.collection(partition).find({ webhookId }, { projection: { 'attempt.responseBodyExcerpt': 0 } })),
    ]);
    const byDelivery = groupBy(outcomes.map(toOutcome), (o) => o.deliveryId);
    return docs.map((doc) => ({ ...currentState(asMatched(doc), byDelivery.get(doc._id) ?? []), attempts: [] }));
  }

  async get(workspace: string, webhookId: string, deliveryId: string): Promise<DeliveryRecord | null> {
    // By `_id` alone, in its hour: the one filter FerretDB narrows in SQL; the rest is checked here.
    const partition = partitionOf(deliveryId, webhookId);
    const [single, pack] = await Promise.all([
      this.deliveries.collection(partition).findOne({ _id: deliveryId }),
      this.packs.collection(partition).findOne({ _id: packIdOf(deliveryId) }),
    ]);
    const doc = single ?? (pack ? memberFor(pack, webhookId) : null);
    if (!doc || doc._id !== deliveryId || doc.workspace !== workspace || doc.webhookId !== webhookId) return null;
    const [state] = await this.withOutcomes([doc], { payloads: true });
    return state ?? null;
  }

  async *failedDeliveries(workspace: string, webhookId: string, since: Date, until: Date): AsyncIterable<DeliveryRecord[]> {
    // The hours of the window, oldest first; per hour one query, and per chunk one read of its
    // outcomes, so that each chunk's statuses are current.
    const shard = `_${shardOf(webhookId)}`;
    const hours = (await this.storedPartitions())
      .filter((p) => p.endsWith(shard) && startOf(p) < until.getTime() && startOf(p) + HOUR_MS > since.getTime())
      .reverse();
    for (const partition of hours) {
      const window = { $gte: since, $lt: until };
      const [singles, packs] = await Promise.all([
        readAll(this.deliveries.collection(partition).find({ workspace, webhookId, createdAt: window })),
        readAll(this.packs.collection(partition).find({ workspace, webhookIds: webhookId, createdAt: window })),
      ]);
      // Oldest first.
      const docs = [...singles, ...packs.flatMap((pack) => memberFor(pack, webhookId) ?? [])].sort(newestFirst).reverse();
      for (let i = 0; i < docs.length; i += BULK_CHUNK) {
        yield (await this.withOutcomes(docs.slice(i, i + BULK_CHUNK))).filter((d) => d.status === 'failed');
      }
    }
  }

  async byIds(deliveryIds: string[]): Promise<DeliveryRecord[]> {
    const found: DeliveryRecord[] = [];
    // An id names its hour, not its webhook: each of the hour's shards is asked.
    for (const [hour, ids] of groupBy(deliveryIds, partitionOfId)) {
      for (let i = 0; i < ids.length; i += BULK_CHUNK) {
        const chunk = ids.slice(i, i + BULK_CHUNK);
        const docs = await Promise.all(
          shardsOf(hour).map(async (partition) => {
            const [singles, packs] = await Promise.all([
              byIdsIn(this.deliveries.collection(partition), chunk),
              byIdsIn(this.packs.collection(partition), [...new Set(chunk.map(packIdOf))]),
            ]);
            const asked = new Set(chunk);
            return [...singles, ...packs.flatMap(membersOf).filter((d) => asked.has(d._id))];
          }),
        );
        found.push(...(await this.withOutcomes(docs.flat())));
      }
    }
    return found;
  }

  /** Every delivery of events whose id starts with `eventIdPrefix`, counted by status (for operators and benchmarks). */
  async settlement(eventIdPrefix = ''): Promise<Settlement> {
    const match = eventIdPrefix ? { eventId: { $regex: `^${eventIdPrefix.replace(/[^A-Za-z0-9_-]/g, '\\$&')}` } } : {};
    const byStatus: Record<DeliveryStatus, number> = { pending: 0, succeeded: 0, retrying: 0, failed: 0 };
    const unsettled: Settlement['unsettled'] = [];
    let total = 0;
    for (const partition of await this.storedPartitions(0)) {
      const [singles, packs, outcomes] = await Promise.all([
        readAll(this.deliveries.collection(partition).find(match, { projection: { _id: 1 } })),
        readAll(this.packs.collection(partition).find(match, { projection: { ids: 1 } })),
        readAll(this.outcomes.collection(partition).find(match, { projection: { attempt: 0 } })),
      ]);
      const docs = [...singles, ...packs.flatMap((p) => p.ids.map((_id) => ({ _id })))];
      const byDelivery = groupBy(outcomes.map(toOutcome), (o) => o.deliveryId);
      total += docs.length;
      for (const { _id } of docs) {
        const newest = newestOutcome(byDelivery.get(_id) ?? []);
        const status = newest?.status ?? 'pending';
        byStatus[status]++;
        if (status !== 'succeeded') unsettled.push({ id: _id, status, nextAttemptAt: newest?.nextAttemptAt ?? null });
      }
    }
    return { total, byStatus, unsettled };
  }

  /** The deliveries as they stand: per hour, one read of their outcomes (and of their bodies, bodiesOf). */
  private async withOutcomes(docs: DeliveryDoc[], { attempts = true, payloads = false } = {}): Promise<DeliveryRecord[]> {
    if (docs.length === 0) return [];
    const projection = attempts ? {} : { projection: { 'attempt.responseBodyExcerpt': 0 } };
    const [outcomes, bodies] = await Promise.all([
      Promise.all(
        [...groupBy(docs, (d) => partitionOf(d._id, d.webhookId))].map(([partition, group]) =>
          readAll(
            this.outcomes
              .collection(partition)
              .find(group.length === 1 ? { deliveryId: group[0]!._id } : { deliveryId: { $in: group.map((d) => d._id) } }, projection),
          ),
        ),
      ),
      payloads ? this.bodiesOf(docs).then((found) => found.filter((b): b is PayloadDoc => b !== null)) : [],
    ]);
    const byDelivery = groupBy(outcomes.flat().map(toOutcome), (o) => o.deliveryId);
    const bodyOf = new Map(bodies.map((b) => [b._id, b.payload]));
    // A body stored in an earlier hour (the event matched again later) is looked for there.
    for (const d of docs) {
      const key = payloadKey(d.workspace, d.eventId);
      if (payloads && !bodyOf.has(key)) bodyOf.set(key, (await this.bodyOf(d.workspace, d.eventId)) ?? '');
    }
    return docs.map((doc) => {
      const state = currentState(asMatched(doc, bodyOf.get(payloadKey(doc.workspace, doc.eventId))), byDelivery.get(doc._id) ?? []);
      return attempts ? state : { ...state, attempts: [] };
    });
  }

  /**
   * Removes the hours that ended more than the retention period ago (deliveries, outcomes and
   * bodies), at most `maxHours` per kind in one sweep so that one sweep stays short.
   */
  async sweep(now = Date.now(), maxHours = 24): Promise<SweepResult> {
    const result: SweepResult = { partitions: 0, records: 0, removed: { deliveries: 0, outcomes: 0, payloads: 0, counts: 0 } };
    if (!this.options.retentionMs) return result;
    const cutoff = now - this.options.retentionMs;
    const kinds: Array<[keyof SweepResult['removed'], Partitions<Document>]> = [
      ['outcomes', this.outcomes as unknown as Partitions<Document>],
      ['payloads', this.payloads as unknown as Partitions<Document>],
      ['deliveries', this.deliveries as unknown as Partitions<Document>],
      ['deliveries', this.packs as unknown as Partitions<Document>],
      ['counts', this.counts.partitions as unknown as Partitions<Document>],
    ];
    for (const [kind, partitions] of kinds) {
      const old = (await partitions.list(0)).filter((p) => startOf(p) + HOUR_MS <= cutoff).reverse().slice(0, maxHours);
      for (const partition of old) {
        const records = await partitions.collection(partition).estimatedDocumentCount();
        if (kind === 'counts') this.counts.dropped(partition);
        if (await partitions.drop(partition)) {
          result.partitions++;
          result.records += records;
          result.removed[kind] += records;
        }
      }
    }
    return result;
  }

  /** Creates the collections (and indexes) of the hour of `at`, ahead of its first write. */
  async prepareHour(at: number): Promise<void> {
    const hour = hourOf(at);
    await Promise.all([
      ...shardsOf(hour).flatMap((shard) => [this.deliveries.forWrite(shard), this.packs.forWrite(shard), this.outcomes.forWrite(shard)]),
      this.payloads.forWrite(hour),
      this.counts.prepareHour(at),
    ]);
  }

  /** Moves what the single collections of earlier versions hold into hours, then drops them (once, at start). */
  private async convertLegacy(): Promise<void> {
    const present = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    const kinds: Array<[string, Partitions<Document>, (doc: Document) => string]> = [
      [LEGACY.payloads, this.payloads as unknown as Partitions<Document>, (doc) => hourOf(new Date(doc.createdAt).getTime())],
      [LEGACY.deliveries, this.deliveries as unknown as Partitions<Document>, (doc) => partitionOf(String(doc._id), String(doc.webhookId))],
      [LEGACY.outcomes, this.outcomes as unknown as Partitions<Document>, (doc) => partitionOf(String(doc.deliveryId), String(doc.webhookId))],
    ];
    for (const [name, kind, partitionOfDoc] of kinds) {
      if (!present.has(name)) continue;
      const legacy = this.db.collection(name);
      let chunk: Document[] = [];
      const write = async () => {
        for (const [partition, group] of groupBy(chunk, partitionOfDoc)) {
          await insertNew(await kind.forWrite(partition), group);
        }
        chunk = [];
      };
      for await (const doc of legacy.find({})) {
        chunk.push(doc);
        if (chunk.length >= CONVERT_CHUNK) await write();
      }
      await write();
      await legacy.drop().catch(() => false);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.newDeliveries.flush().catch(() => {}), this.newOutcomes.flush().catch(() => {})]);
    // What those writes noted, and what was noted before, written once more.
    await this.counts.close();
  }

  /** Writes the hourly counts noted so far now, rather than within the next second (tests, the bench). */
  flushCounts(): Promise<void> {
    return this.counts.flush();
  }
}

type IndexSpec = { key: Record<string, number>; name: string; unique?: boolean; expireAfterSeconds?: number };

const cursorOf = (state: DeliveryRecord): string => encodeCursor(state.createdAt, state.id);

type StoredPair = DeliveryRecord & { source: string };

/** On FerretDB an `_id` read scans its collection at about 4 µs a document, any other read at 60–80 (README: Reads at scale). */
const EXACT_BODY_READS = 16;

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}
