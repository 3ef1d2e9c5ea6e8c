import type { Collection, Db, Document } from 'mongodb';

/**
 * Delivery records live in one collection per UTC hour (`deliveries_2026120213_2`, deliveries and
 * outcomes also split by webhook shard): FerretDB on
 * SQLite scans a whole collection for every query, so a read that names its hour reads one
 * hour's records however many are kept, and retention drops whole hours.
 */
export const HOUR_MS = 3_600_000;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PARTITION = /^\d{10}(_\d+)?$/;

/**
 * Deliveries and outcomes of one hour are split further by webhook into this many collections:
 * a webhook's page reads about 1/SHARDS of its hour's records, while one batch of many webhooks'
 * deliveries still takes at most SHARDS inserts, written side by side (measured on FerretDB: 4
 * concurrent inserts store as many documents per second as one; 16 store half as many).
 */
export const SHARDS = 4;

/** Which of an hour's collections a webhook's deliveries and outcomes go to. */
export function shardOf(webhookId: string): number {
  let hash = 0;
  for (let i = 0; i < webhookId.length; i++) hash = (hash * 31 + webhookId.charCodeAt(i)) >>> 0;
  return hash % SHARDS;
}

/**
 * The part of a large fan-out a webhook's delivery is stored in (store/delivery-store.ts): 0 for
 * one twentieth of webhooks, 1 for two, 2 for four, 3 for eight and 4 for the last five, as 50,
 * 100, 200, 400 and 250 of 1,000. Fixed by the webhook's id alone, so two processes that match the
 * same event with different webhooks still put each one in the same part (and pack).
 */
export function fanOutPartOf(webhookId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < webhookId.length; i++) hash = Math.imul(hash ^ webhookId.charCodeAt(i), 0x01000193);
  // murmur3's finaliser: ids that differ in their last character land anywhere, not in one part.
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  const twentieth = Math.floor(((hash ^ (hash >>> 16)) >>> 0) / 2 ** 32 * 20);
  return twentieth === 0 ? 0 : twentieth <= 2 ? 1 : twentieth <= 6 ? 2 : twentieth <= 14 ? 3 : 4;
}

/** The collection suffix of a delivery and its outcomes: its hour and its webhook's shard. */
export const partitionOf = (deliveryId: string, webhookId: string): string => `${partitionOfId(deliveryId)}_${shardOf(webhookId)}`;

/** The collection suffixes of one hour's shards. */
export const shardsOf = (hour: string): string[] => Array.from({ length: SHARDS }, (_, i) => `${hour}_${i}`);

/** The last hour named, since nearly every call is for the current hour (several calls per delivery). */
let lastHour = { start: NaN, name: '' };

/** `2026120213` for any time in that UTC hour. */
export function hourOf(ms: number): string {
  const start = Math.floor(ms / HOUR_MS) * HOUR_MS;
  if (start !== lastHour.start) {
    const iso = new Date(start).toISOString();
    lastHour = { start, name: iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) };
  }
  return lastHour.name;
}

/** The start of a partition's hour (ms); a shard's suffix is ignored. */
export function startOf(partition: string): number {
  const [y, mo, d, h] = [partition.slice(0, 4), partition.slice(4, 6), partition.slice(6, 8), partition.slice(8, 10)].map(Number);
  return Date.UTC(y!, mo! - 1, d!, h!);
}

/**
 * The creation time a time-sortable id carries (`dlv_` + 10 base62 characters of milliseconds,
 * domain/ids.ts), or 0 for an id of another shape: such ids all share the first partition.
 */
export function timeOfId(id: string): number {
  const body = id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11);
  if (body.length !== 10) return 0;
  let ms = 0;
  for (const ch of body) {
    const digit = BASE62.indexOf(ch);
    if (digit < 0) return 0;
    ms = ms * 62 + digit;
  }
  return ms;
}

/** The hour of a delivery (and of its outcomes and its body), named by its id. */
export const partitionOfId = (deliveryId: string): string => hourOf(timeOfId(deliveryId));

/**
 * The partitions of one kind of record (`<prefix>_<hour>` collections): which exist, newest first,
 * from a listing kept for a second, plus the ones this process wrote to since (always current).
 */
export class Partitions<T extends Document> {
  private listed: { at: number; names: Set<string> } | undefined;
  private readonly written = new Set<string>();
  private readonly prepared = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Db,
    readonly prefix: string,
    /** Creates a new partition's indexes, once per process. */
    private readonly prepare: (collection: Collection<T>) => Promise<void>,
  ) {}

  collection(partition: string): Collection<T> {
    return this.db.collection<T>(`${this.prefix}_${partition}`);
  }

  /** The collection to write to, with its indexes. */
  async forWrite(partition: string): Promise<Collection<T>> {
    const collection = this.collection(partition);
    let ready = this.prepared.get(partition);
    if (!ready) {
      ready = this.prepare(collection);
      this.prepared.set(partition, ready);
      ready.catch(() => this.prepared.delete(partition));
    }
    await ready;
    this.written.add(partition);
    return collection;
  }

  /** Every partition stored, newest first. */
  async list(maxAgeMs = 1_000): Promise<string[]> {
    if (!this.listed || Date.now() - this.listed.at >= maxAgeMs) {
      const found = await this.db.listCollections({ name: { $regex: `^${this.prefix}_\\d{10}(_\\d+)?$` } }, { nameOnly: true }).toArray();
      this.listed = { at: Date.now(), names: new Set(found.map((c) => c.name.slice(this.prefix.length + 1)).filter((p) => PARTITION.test(p))) };
    }
    return [...new Set([...this.listed.names, ...this.written])].sort().reverse();
  }

  /** Drops one partition; false when it was not there. */
  async drop(partition: string): Promise<boolean> {
    this.written.delete(partition);
    this.prepared.delete(partition);
    this.listed?.names.delete(partition);
    return this.collection(partition).drop().catch(() => false);
  }
}
