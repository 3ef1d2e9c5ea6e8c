import { randomInt } from 'node:crypto';
import { MongoBulkWriteError, MongoClient, type Collection, type Db, type Document, type FindCursor, type OptionalUnlessRequiredId } from 'mongodb';

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  /** e.g. `FerretDB v1.24.2 (MongoDB 7.0.42 wire)` or `MongoDB 8.0.4`. */
  serverVersion: string;
}

export async function connectMongo(uri: string, database: string): Promise<MongoConnection> {
  const client = new MongoClient(uri, {
    // A stopped server should fail calls fast (the API answers 503) instead of hanging them.
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
    maxPoolSize: 50,
  });
  await client.connect();
  return { client, db: client.db(database), serverVersion: await describeServer(client) };
}

export async function describeServer(client: MongoClient): Promise<string> {
  const info = await client.db('admin').command({ buildInfo: 1 });
  return info.ferretdbVersion ? `FerretDB ${info.ferretdbVersion} (MongoDB ${info.version} wire)` : `MongoDB ${info.version}`;
}

/**
 * The most documents a store read takes in its first reply. FerretDB keeps a SQLite connection
 * (100 per database) for each cursor left open between replies, and its queries wait for one:
 * a hundred reads waiting for a driver connection to send their getMore stop the whole server,
 * for good. A first reply larger than the result closes the cursor at once. This one holds the
 * largest read of the store, a workspace's webhooks at the default cap of 10,000, and costs
 * FerretDB an array of that many pointers per read.
 */
export const ONE_REPLY = 16_384;

/** Every document the query finds, in one reply where they fit in ONE_REPLY. */
export function readAll<T>(find: FindCursor<T>): Promise<T[]> {
  return find.batchSize(ONE_REPLY).toArray();
}

const DUPLICATE_KEY = 11000;

export const isDuplicateKey = (error: unknown): boolean => (error as { code?: number } | null)?.code === DUPLICATE_KEY;

/**
 * Inserts new records, unordered, and returns the indexes of those refused as duplicates; throws
 * anything else. A single record goes through `insertOne`, which costs the driver about a fifth
 * less CPU than a bulk insert of one (measured with FerretDB here), and most inserts on the hot
 * path carry one record at low rates.
 */
export async function insertNew<T extends Document>(collection: Collection<T>, docs: OptionalUnlessRequiredId<T>[]): Promise<number[]> {
  if (docs.length === 0) return [];
  try {
    if (docs.length === 1) await collection.insertOne(docs[0]!);
    else await collection.insertMany(docs, { ordered: false });
    return [];
  } catch (error) {
    if (docs.length === 1 && isDuplicateKey(error)) return [0];
    if (!(error instanceof MongoBulkWriteError)) throw error;
    const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    if (errors.length === 0 || errors.some((e) => e.code !== DUPLICATE_KEY)) throw error;
    return errors.map((e) => e.index);
  }
}

/** A change counter, read by `_id`. `settleMs` (absent: 0) as in domain/change-mark.ts. */
export type VersionDoc = { _id: string; version: number; settleMs?: number };

/**
 * Marks a change under `id` with a new random value, never a sum: FerretDB loses concurrent
 * `$inc` updates, never a write.
 */
export async function markChanged(versions: Collection<VersionDoc>, id: string, settleMs = 0): Promise<void> {
  const write = () => versions.updateOne({ _id: id }, { $set: { version: randomInt(1, 2 ** 48), settleMs } }, { upsert: true });
  try {
    await write();
  } catch (error) {
    // Two first changes at once: both upsert, one insert loses; its write is now an update.
    if (!isDuplicateKey(error)) throw error;
    await write();
  }
}
