import type { Collection, Db, Document } from 'mongodb';

/**
 * Delivery records live in one collection per UTC hour (`deliveries_2026120213`): FerretDB on
 * SQLite scans a whole collection for every query, so a read that names its hour reads one
 * hour's records however many are kept, and retention drops whole hours.
 */
export const HOUR_MS = 3_600_000;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const PARTITION = /^\d{10}$/;

/** `2026120213` for any time in that UTC hour. */
export function hourOf(ms: number): string {
  const iso = new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString();
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13);
}

/** The start of a partition's hour (ms). */
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

/** The partition of a delivery (and of its outcomes and its body), named by its id. */
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
    if (!this.listed || Date.now() - this.listed.at > maxAgeMs) {
      const found = await this.db.listCollections({ name: { $regex: `^${this.prefix}_\\d{10}$` } }, { nameOnly: true }).toArray();
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
