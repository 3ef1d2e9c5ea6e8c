import type { Db } from 'mongodb';
import { randomBase62 } from '../domain/ids.js';
import type { Logger } from '../log/logger.js';
import { statusOfRank } from '../pipeline/delivery-state.js';
import type { HourCounts } from '../pipeline/ports.js';
import { isDuplicateKey, readAll } from './mongo.js';
import { HOUR_MS, hourOf, Partitions, shardOf } from './partitions.js';

/** One delivery's state as a summary keeps it (pipeline/delivery-state.ts stateRank). */
export interface RankEntry {
  workspace: string;
  webhookId: string;
  deliveryId: string;
  rank: number;
}

/** Ranks by delivery id, by webhook, by workspace, as held in memory. */
type RankTree = Map<string, Map<string, Map<string, number>>>;

/**
 * One writer's summary of one shard of an hour (`_id` `<shard>-<writer>-<n>`), or the shard as
 * counted once from its records (`<shard>-records`): per workspace and webhook, its deliveries'
 * ranks packed into one string, `{ _id: '2-k3Xw…-12', w: { acme: { whk_…: 'dlv_…:9,dlv_…:0' } } }`.
 * FerretDB 1.x spends about 20 µs on each field of a document it writes and 6 µs on an entry
 * packed in a string.
 */
type CountsDoc = { _id: string; w: Record<string, Record<string, string>> };
/** Written once per database: the newest hour whose records may predate the summaries ('' for none). */
type SummariesDoc = { _id: 'summaries'; before: string; at: Date };

/**
 * What this process writes of one hour's shard: what it noted since its last write, and what it
 * wrote since it last started afresh (the union of its documents of this round), so that their
 * many small documents can be folded into one.
 */
interface Shard {
  /** `<hour>_<shard>`, as the shard's deliveries are named (partitions.ts). */
  partition: string;
  pending: RankTree;
  pendingKeys: number;
  /** What the write on its way holds, until it is stored: reads count it meanwhile. */
  writing?: RankTree;
  union: RankTree;
  unionKeys: number;
  /** This round's documents, until folded. */
  docs: string[];
  touched: number;
}

export interface DeliveryCountsOptions {
  logger?: Logger;
  /**
   * The ranks of an hour's shard as its records have them, or null when it holds no records: for
   * hours not summarised from their start (records stored before summaries were kept).
   */
  recount: (partition: string) => Promise<RankEntry[] | null>;
  /** The hour collections of deliveries that exist, newest first. */
  storedHours: () => Promise<string[]>;
}

/** At most one write of the summaries a second. */
const FLUSH_EVERY_MS = 1_000;
/**
 * Writes only ever insert (FerretDB reads a whole collection to find the document a replace or
 * update names, so a replace in an hour of a busy day costs it more than the 500 inserts beside
 * it): each write adds a document of the changes since the last one. A writer folds its small
 * documents of an hour's shard into one (an insert, and a delete of what it folded) once it has
 * written this many, so an hour's read meets few documents however quiet its traffic...
 */
const FOLD_AFTER_DOCS = 30;
/** ...and starts afresh once what it wrote of the hour's shard holds this many deliveries: its documents are large enough. */
const ROUND_KEYS = 5_000;
/** Deliveries held in memory across hours, beyond which the least recently touched shards with nothing left to write are let go. */
const HELD_KEYS = 100_000;
/** A shard with nothing left to write, untouched this long, is let go; a later note to it starts a new round. */
const IDLE_MS = 10 * 60_000;
/** Hours read at once by one countsByHour. */
const READ_CONCURRENCY = 8;
const WRITE_CONCURRENCY = 4;

/** The collection of a shard's counts: one per hour (a collection costs FerretDB more than a document). */
const hourOfShard = (partition: string): string => partition.slice(0, 10);
/** The `_id`s of a shard's documents start with this; `<shard>.` sorts right after all of them. */
const idPrefix = (partition: string): string => `${partition.slice(11)}-`;

/**
 * Field names must not hold `.` nor start with `$`, and packed ids hold no `,` or `:`; ids and
 * workspace slugs never do, but nothing here relies on it.
 */
const safeKey = (key: string): string => (/[%.$,:]/.test(key) ? key.replace(/[%.$,:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`) : key);

/** Every entry of a tree, keys as they are. */
function* entriesOf(tree: RankTree): Generator<[string, string, string, number]> {
  for (const [ws, webhooks] of tree) for (const [wh, ranks] of webhooks) for (const [id, rank] of ranks) yield [ws, wh, id, rank];
}

/** A tree as stored: per workspace and webhook, `id:rank` joined by commas. */
function packed(tree: RankTree): CountsDoc['w'] {
  const w: CountsDoc['w'] = {};
  for (const [workspace, webhooks] of tree) {
    const byWebhook: Record<string, string> = (w[workspace] = {});
    for (const [webhookId, ranks] of webhooks) byWebhook[webhookId] = Array.from(ranks, ([id, rank]) => `${id}:${rank}`).join(',');
  }
  return w;
}

/** Takes an entry (its keys made safe already) into a tree: whether it added the delivery, raised its rank, or changed nothing. */
function raise(tree: RankTree, ws: string, wh: string, id: string, rank: number): 'new' | 'raised' | undefined {
  let webhooks = tree.get(ws);
  if (!webhooks) tree.set(ws, (webhooks = new Map()));
  let ranks = webhooks.get(wh);
  if (!ranks) webhooks.set(wh, (ranks = new Map()));
  const before = ranks.get(id);
  if (before !== undefined && before >= rank) return undefined;
  ranks.set(id, rank);
  return before === undefined ? 'new' : 'raised';
}

/**
 * Per hour and webhook shard, how many of a webhook's deliveries stand at each status, written off
 * the hot path: the delivery insert and the outcome writer note each delivery's rank here (no
 * await), and at most once a second each hour's shard touched gets one insert (and, after 30 of
 * them, one fold). Ranks only grow, so a late, repeated or reordered note never lowers a
 * delivery's state, and reads take the highest rank of each delivery across documents.
 *
 * Each process writes documents of its own (`<shard>-<writer>-<n>`, in `delivery_counts_<hour>`),
 * by insert only: FerretDB 1.x applies an update as a read and a rewrite of the document outside
 * any transaction, so two processes updating one document lose each other's changes; a `$max` on
 * many dotted paths costs about 90 µs a path (a flush at 3,500 deliveries/s took 580 ms of every
 * second); and a replace or update first reads the whole collection (23 ms in one of 6 MB).
 */
export class DeliveryCounts {
  readonly partitions: Partitions<CountsDoc>;
  private readonly writer = randomBase62(12);
  /** Documents this process named so far (each `_id` is new). */
  private named = 0;
  /** By hour's shard, least recently touched first. */
  private readonly shards = new Map<string, Shard>();
  private held = 0;
  private before: Promise<string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly recounts = new Map<string, Promise<RankEntry[] | null>>();

  constructor(
    private readonly db: Db,
    private readonly options: DeliveryCountsOptions,
  ) {
    this.partitions = new Partitions<CountsDoc>(db, 'delivery_counts', async (collection) => {
      // Created ahead of the hour like the other hour collections, so the first flush does not wait on it.
      await db.createCollection(collection.collectionName).catch((error: { code?: number }) => {
        if (error.code !== 48) throw error;
      });
    });
  }

  /** Takes deliveries' ranks for the next flush, all of one hour's shard (`partitionOf` each); never waits. */
  note(partition: string, entries: RankEntry[]): void {
    if (entries.length === 0) return;
    const shard = this.shardFor(partition);
    for (const { workspace, webhookId, deliveryId, rank } of entries) this.take(shard, safeKey(workspace), safeKey(webhookId), safeKey(deliveryId), rank);
    if (shard.pendingKeys > 0) this.schedule();
  }

  /** Raises a delivery's rank in what the shard's round holds and, when that changed it, in what is to be written. */
  private take(shard: Shard, ws: string, wh: string, id: string, rank: number): void {
    const change = raise(shard.union, ws, wh, id, rank);
    if (!change) return;
    if (change === 'new') {
      shard.unionKeys++;
      this.held++;
    }
    if (raise(shard.pending, ws, wh, id, rank) === 'new') shard.pendingKeys++;
  }

  private shardFor(partition: string, fresh = false): Shard {
    let shard = this.shards.get(partition);
    if (shard) this.shards.delete(partition);
    if (!shard || fresh) shard = { partition, pending: new Map(), pendingKeys: 0, union: new Map(), unionKeys: 0, docs: [], touched: 0 };
    shard.touched = Date.now();
    this.shards.set(partition, shard);
    return shard;
  }

  private let(shard: Shard): void {
    if (this.shards.get(shard.partition) === shard) this.shards.delete(shard.partition);
    this.held -= shard.unionKeys;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.flush();
      },
      Math.max(0, this.lastFlush + FLUSH_EVERY_MS - Date.now()),
    );
    this.timer.unref();
  }

  /** Writes what was noted since the last write; one flush at a time. */
  flush(): Promise<void> {
    this.chain = this.chain.then(() => this.writeChanged());
    return this.chain;
  }

  private async writeChanged(): Promise<void> {
    const changed = [...this.shards.values()].filter((s) => s.pendingKeys > 0);
    const failed: unknown[] = [];
    await inBatches(changed, WRITE_CONCURRENCY, async (shard) => {
      const { pending } = shard;
      shard.pending = new Map();
      shard.pendingKeys = 0;
      shard.writing = pending;
      try {
        const collection = await this.partitions.forWrite(hourOfShard(shard.partition));
        const _id = this.nextId(shard.partition);
        await collection.insertOne({ _id, w: packed(pending) });
        shard.docs.push(_id);
      } catch (error) {
        // Kept, and written with what comes next (under a new id: the lost one may be stored, which is harmless).
        for (const [ws, wh, id, rank] of entriesOf(pending)) if (raise(shard.pending, ws, wh, id, rank) === 'new') shard.pendingKeys++;
        failed.push(error);
        return;
      } finally {
        shard.writing = undefined;
      }
      if (shard.unionKeys >= ROUND_KEYS) {
        // Large enough: what comes next starts a new round (with what was noted while this was written).
        this.held -= shard.unionKeys;
        const next = this.shardFor(shard.partition, true);
        for (const [ws, wh, id, rank] of entriesOf(shard.pending)) this.take(next, ws, wh, id, rank);
      } else if (shard.docs.length >= FOLD_AFTER_DOCS) {
        await this.fold(shard).catch((error: unknown) => failed.push(error));
      }
    });
    if (failed.length > 0) this.options.logger?.warn({ err: failed[0], hours: failed.length }, 'delivery counts per hour not written; trying again at the next flush');
    this.letGo();
    // The next write a second after this one ended, not started: a slow server gets its second too.
    this.lastFlush = Date.now();
    if ([...this.shards.values()].some((s) => s.pendingKeys > 0)) this.schedule();
  }

  /** This round's documents of the hour's shard as one: the union inserted, then what it covers deleted. */
  private async fold(shard: Shard): Promise<void> {
    const collection = this.partitions.collection(hourOfShard(shard.partition));
    const folded = shard.docs;
    const _id = this.nextId(shard.partition);
    await collection.insertOne({ _id, w: packed(shard.union) });
    shard.docs = [_id];
    // Left behind when this fails: harmless, as reads take each delivery's highest rank.
    await collection.deleteMany({ _id: { $in: folded } });
  }

  private nextId(partition: string): string {
    return `${idPrefix(partition)}${this.writer}-${this.named++}`;
  }

  /** Shards with nothing left to write, not touched for a while, and the oldest beyond what is held at most. */
  private letGo(): void {
    const now = Date.now();
    for (const shard of [...this.shards.values()]) {
      if (shard.pendingKeys > 0) continue;
      if (now - shard.touched > IDLE_MS || this.held > HELD_KEYS) this.let(shard);
    }
  }

  /**
   * The newest hour that may hold records stored before summaries were kept, settled once per
   * database at the first start that keeps them (after records of earlier versions were moved
   * into hours): later hours are summarised from their first delivery, earlier ones are counted
   * from their records when first read.
   */
  summariesBegan(): Promise<string> {
    this.before ??= (async () => {
      const meta = this.db.collection<SummariesDoc>('delivery_counts');
      const found = await meta.findOne({ _id: 'summaries' });
      if (found) return found.before;
      const before = (await this.options.storedHours())[0]?.slice(0, 10) ?? '';
      // Two processes starting at once: the first write stands, and both read it.
      await meta.insertOne({ _id: 'summaries', before, at: new Date() }).catch((error: unknown) => {
        if (!isDuplicateKey(error)) throw error;
      });
      return (await meta.findOne({ _id: 'summaries' }))?.before ?? before;
    })();
    this.before.catch(() => (this.before = undefined));
    return this.before;
  }

  /** Creates the hour's collections ahead of its first write. */
  async prepareHour(at: number): Promise<void> {
    await this.partitions.forWrite(hourOf(at));
  }

  /** Forgets what is held of an hour retention dropped. */
  dropped(hour: string): void {
    for (const shard of [...this.shards.values()]) if (hourOfShard(shard.partition) === hour) this.let(shard);
  }

  /**
   * The webhook's deliveries by status per UTC hour, for the `hours` hours ending with the current
   * one, oldest first: per hour one read of the few documents of its shard, several hours at once.
   */
  async byHour(workspace: string, webhookId: string, hours: number, now: number): Promise<HourCounts[]> {
    const first = Math.floor(now / HOUR_MS) * HOUR_MS - (hours - 1) * HOUR_MS;
    const starts = Array.from({ length: hours }, (_, i) => first + i * HOUR_MS);
    const shard = shardOf(webhookId);
    return inBatches(starts, READ_CONCURRENCY, async (start) => {
      const counts: HourCounts = { start: new Date(start), succeeded: 0, retrying: 0, pending: 0, failed: 0 };
      for (const rank of (await this.ranksIn(`${hourOf(start)}_${shard}`, workspace, webhookId)).values()) counts[statusOfRank(rank)]++;
      return counts;
    });
  }

  /** The highest rank of each of the webhook's deliveries in one hour's shard. */
  private async ranksIn(partition: string, workspace: string, webhookId: string): Promise<Map<string, number>> {
    const [ws, wh] = [safeKey(workspace), safeKey(webhookId)];
    const prefix = idPrefix(partition);
    // What this process noted and has not stored yet, taken before the read: a write that ends
    // while the read runs may have been stored after the read's snapshot.
    const shard = this.shards.get(partition);
    const unstored = [shard?.pending, shard?.writing].map((tree) => tree?.get(ws)?.get(wh));
    const docs = await readAll(
      this.partitions.collection(hourOfShard(partition)).find({ _id: { $gte: prefix, $lt: `${prefix.slice(0, -1)}.` } }, { projection: { [`w.${ws}.${wh}`]: 1 } }),
    );
    const ranks = new Map<string, number>();
    const take = (key: string, rank: number) => {
      if (!(rank <= (ranks.get(key) ?? -1))) ranks.set(key, rank);
    };
    for (const doc of docs) {
      const text = doc.w?.[ws]?.[wh];
      if (typeof text !== 'string' || text === '') continue;
      for (const entry of text.split(',')) {
        const at = entry.lastIndexOf(':');
        take(entry.slice(0, at), Number(entry.slice(at + 1)));
      }
    }
    for (const ranksOf of unstored) for (const [key, rank] of ranksOf ?? []) take(key, rank);
    if (hourOfShard(partition) <= (await this.summariesBegan()) && !docs.some((d) => d._id === `${prefix}records`)) {
      for (const entry of (await this.recounted(partition)) ?? []) {
        if (entry.workspace === workspace && entry.webhookId === webhookId) take(safeKey(entry.deliveryId), entry.rank);
      }
    }
    return ranks;
  }

  /**
   * An hour's shard counted from its records, once: the result is written back as its
   * `<shard>-records` document. What is noted since goes to the writers' documents.
   */
  private recounted(partition: string): Promise<RankEntry[] | null> {
    let pending = this.recounts.get(partition);
    if (!pending) {
      pending = this.options.recount(partition).then(async (entries) => {
        if (entries === null) return null;
        const tree: RankTree = new Map();
        for (const e of entries) raise(tree, safeKey(e.workspace), safeKey(e.webhookId), safeKey(e.deliveryId), e.rank);
        const collection = await this.partitions.forWrite(hourOfShard(partition));
        const _id = `${idPrefix(partition)}records`;
        // Another process counting the same hour at once wrote the same or a later count.
        await collection.insertOne({ _id, w: packed(tree) }).catch((error: unknown) => {
          if (!isDuplicateKey(error)) this.options.logger?.warn({ err: error, partition }, 'delivery counts of an hour counted from its records, not written back');
        });
        return entries;
      });
      this.recounts.set(partition, pending);
      void pending.finally(() => this.recounts.delete(partition)).catch(() => {});
    }
    return pending;
  }

  /** Stops the timer and writes what is left, once. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

/** `work` on every item, at most `limit` at a time; results in the items' order. */
async function inBatches<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!);
      }
    }),
  );
  return results;
}
