import { MongoBulkWriteError, type AnyBulkWriteOperation, type Collection, type Db, type Filter } from 'mongodb';
import { Batcher } from '../pipeline/batcher.js';
import { afterCursor, NEWEST_FIRST, toPage } from './paging.js';
import type {
  DeliveryFilter,
  DeliveryReader,
  DeliveryRecord,
  DeliveryUpdate,
  DeliveryWriter,
  Page,
} from '../pipeline/ports.js';

type DeliveryDoc = Omit<DeliveryRecord, 'id'> & { _id: string; source?: string };

const DUPLICATE_KEY = 11000;
/**
 * Statements per update command. FerretDB 1.x on SQLite holds one of its 100 pooled connections
 * per statement until the command ends, and deadlocks for good once the commands of all
 * instances together reach 100; MongoDB does not care. Small commands leave room for many.
 */
export const MAX_UPDATES_PER_COMMAND = 10;
const LIST_PROJECTION = { attempts: 0, payload: 0 } as const;

// List queries leave out attempts and payload.
const toRecord = ({ _id, source: _source, ...doc }: DeliveryDoc): DeliveryRecord => ({
  ...doc,
  attempts: doc.attempts ?? [],
  payload: doc.payload ?? '',
  id: _id,
});

/** Deliveries and their attempts, paged newest first. */
export class DeliveryStore implements DeliveryReader, DeliveryWriter {
  private readonly deliveries: Collection<DeliveryDoc>;
  private readonly updates: Batcher<DeliveryUpdate>;

  constructor(db: Db) {
    this.deliveries = db.collection<DeliveryDoc>('deliveries');
    // Attempt records are written in bulk: one round-trip for many finished sends.
    this.updates = new Batcher((batch) => this.writeUpdates(batch), { maxItems: 500, maxDelayMs: 5 });
  }

  async ensureIndexes(): Promise<void> {
    await this.deliveries.createIndex({ webhookId: 1, eventId: 1 }, { unique: true, name: 'webhook_event_unique' });
    await this.deliveries.createIndex({ workspace: 1, webhookId: 1, createdAt: -1, _id: -1 }, { name: 'by_webhook_newest' });
  }

  async insertPending(records: DeliveryRecord[], source: string): Promise<{ existing: Array<DeliveryRecord & { source: string }> }> {
    if (records.length === 0) return { existing: [] };
    try {
      await this.deliveries.insertMany(
        records.map(({ id, ...rest }) => ({ _id: id, ...rest, source })),
        { ordered: false },
      );
      return { existing: [] };
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
      if (errors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
      const duplicates = errors.map((e) => records[e.index]!);
      const stored = await this.deliveries
        .find({ $or: duplicates.map((r) => ({ webhookId: r.webhookId, eventId: r.eventId })) })
        .toArray();
      return { existing: stored.map((doc) => ({ ...toRecord(doc), source: doc.source ?? '' })) };
    }
  }

  applyUpdates(updates: DeliveryUpdate[]): Promise<void> {
    return this.updates.add(...updates);
  }

  private async writeUpdates(updates: DeliveryUpdate[]): Promise<void> {
    const now = new Date();
    const operations: AnyBulkWriteOperation<DeliveryDoc>[] = updates.map((u) => {
      const set: Partial<DeliveryDoc> = { status: u.status, nextAttemptAt: u.nextAttemptAt, updatedAt: now };
      if (u.attempt) {
        set.lastResponseStatus = u.attempt.responseStatus;
        set.lastError = u.attempt.error;
      }
      if (u.lastError !== undefined) set.lastError = u.lastError;
      return {
        updateOne: {
          filter: { _id: u.deliveryId },
          update: u.attempt ? { $set: set, $push: { attempts: u.attempt }, $inc: { attemptCount: 1 } } : { $set: set },
        },
      };
    });
    for (let from = 0; from < operations.length; from += MAX_UPDATES_PER_COMMAND) {
      await this.deliveries.bulkWrite(operations.slice(from, from + MAX_UPDATES_PER_COMMAND), { ordered: true });
    }
  }

  async list(
    workspace: string,
    webhookId: string,
    filter: DeliveryFilter,
    pageSize: number,
    cursor: string,
  ): Promise<Page<DeliveryRecord>> {
    const query: Filter<DeliveryDoc> = { workspace, webhookId, ...afterCursor<DeliveryDoc>(cursor) };
    if (filter.status) query.status = filter.status;
    if (filter.eventType) query.eventType = filter.eventType;
    const docs = await this.deliveries
      .find(query, { projection: LIST_PROJECTION })
      .sort(NEWEST_FIRST)
      .limit(pageSize + 1)
      .toArray();
    return toPage(docs, pageSize, toRecord);
  }

  async get(workspace: string, webhookId: string, deliveryId: string): Promise<DeliveryRecord | null> {
    const doc = await this.deliveries.findOne({ _id: deliveryId, workspace, webhookId });
    return doc ? toRecord(doc) : null;
  }

  async close(): Promise<void> {
    await this.updates.flush().catch(() => {});
  }
}
