import { randomInt } from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import { coveredBy, mustReread, type ChangeMark, type MarkSeen } from '../domain/change-mark.js';
import { DomainError, notFound } from '../domain/errors.js';
import { newSigningSecret, newWebhookId } from '../domain/ids.js';
import type { SignatureScheme } from '../domain/signing.js';
import type { Page, SigningSecret, WebhookDisabler, WebhookLookup, WebhookRecord } from '../pipeline/ports.js';
import { isDuplicateKey, markChanged, readAll, type VersionDoc } from './mongo.js';
import { decodeCursor, pageSizeOf, toPage } from './paging.js';

/**
 * `slot` is the webhook's place under the workspace's cap: unique, from 0 to the cap - 1.
 * `signatureScheme` is absent on webhooks stored before it existed, which are `humiris`.
 */
type WebhookDoc = Omit<WebhookRecord, 'id' | 'signatureScheme'> & { _id: string; slot: number; signatureScheme?: SignatureScheme };
/** As versions before one collection per workspace stored a webhook. */
type LegacyDoc = Omit<WebhookDoc, 'slot'>;

export interface NewWebhook {
  url: string;
  events: string[];
  agent: string | null;
  description: string;
  /** Default `humiris`. */
  signatureScheme?: SignatureScheme;
}

export type WebhookChanges = Partial<Pick<WebhookRecord, 'url' | 'events' | 'agent' | 'description' | 'status' | 'signatureScheme'>>;

/** Workspace slugs are [a-z0-9-], so each workspace's collection name is safe as it stands. */
export const webhookCollectionName = (workspace: string): string => `webhooks.${workspace}`;
/** Where every workspace's webhooks were kept before they had a collection each. */
const LEGACY_COLLECTION = 'webhooks';
/** Webhooks held in memory for list pages, over all workspaces: 10,000 take about 8 MB. */
const SNAPSHOT_DOC_LIMIT = 50_000;
/** Places a create tries, from what it knows, before it reads which are taken. */
const SLOT_GUESSES = 4;
/** How soon a refused version write is sent again. */
const VERSION_RETRY_MS = 1_000;
/** How long one change mark covers this instance's further changes of a workspace (domain/change-mark.ts). */
const SETTLE_MS = 1_000;
/** A change sends a new mark beside its write once the current one has less than this left to stand. */
const MARK_REUSE_MS = SETTLE_MS / 2;
/** Allowance for readers' clocks running at a slightly different rate from this one's. */
const SETTLE_MARGIN_MS = 50;
/** Every instance reads a change within 1 s of its answer (README: Webhooks at scale); twice that, to be safe. */
const SEEN_EVERYWHERE_MS = 2_000;

const toRecord = ({ _id, slot: _slot, signatureScheme = 'humiris', ...rest }: WebhookDoc): WebhookRecord => ({ id: _id, ...rest, signatureScheme });
const newestFirst = (a: WebhookDoc, b: WebhookDoc): number =>
  b.createdAt.getTime() - a.createdAt.getTime() || (a._id < b._id ? 1 : a._id > b._id ? -1 : 0);

interface ListSnapshot {
  mark: MarkSeen;
  /** Newest first. */
  docs: Promise<WebhookDoc[]>;
  /** The same, once read. */
  loaded?: WebhookDoc[];
}

/**
 * Webhooks in MongoDB, one collection per workspace (`webhooks.<workspace>`), so that no read
 * or write of one workspace scans another's: FerretDB scans a whole collection for every query
 * but an exact `_id`. Hard delete, so a deleted id is simply gone.
 */
export class WebhookStore implements WebhookLookup, WebhookDisabler {
  /** One counter per workspace, changed on every change, so matchers and list pages know when to reload. */
  private readonly versions: Collection<VersionDoc>;
  private readonly indexed = new Map<string, Promise<Collection<WebhookDoc>>>();
  /** List pages are cut from one read of the workspace, kept while its version stands (least recently used first). */
  private readonly snapshots = new Map<string, ListSnapshot>();
  private readonly slotReads = new Map<string, Promise<number[]>>();
  /**
   * Per workspace, the latest change mark this instance sent (its own reads wait for it). One mark
   * covers every change acknowledged within SETTLE_MS of sending it, so a run of changes, one by
   * one or at once, costs a mark every half second or so, not one each.
   */
  private readonly marks = new Map<string, MarkSent>();
  /** When this instance last answered a change of each workspace's webhooks (performance.now()). */
  private readonly lastChange = new Map<string, number>();

  constructor(private readonly db: Db) {
    this.versions = db.collection('webhook_versions');
  }

  private collectionOf(workspace: string): Collection<WebhookDoc> {
    return this.db.collection<WebhookDoc>(webhookCollectionName(workspace));
  }

  /** The workspace's collection with its unique `slot` index, which makes the cap hold however many creates race. */
  private indexedCollection(workspace: string): Promise<Collection<WebhookDoc>> {
    let ready = this.indexed.get(workspace);
    if (!ready) {
      const collection = this.collectionOf(workspace);
      ready = collection.createIndex({ slot: 1 }, { unique: true, name: 'slot_unique' }).then(() => collection);
      this.indexed.set(workspace, ready);
      ready.catch(() => this.indexed.delete(workspace));
    }
    return ready;
  }

  /** Moves webhooks kept by earlier versions in the one `webhooks` collection to their workspaces' collections. Safe to repeat. */
  async init(): Promise<void> {
    const legacy = this.db.collection<LegacyDoc>(LEGACY_COLLECTION);
    const docs = await readAll(legacy.find({}).sort({ createdAt: 1, _id: 1 }));
    const byWorkspace = new Map<string, LegacyDoc[]>();
    for (const doc of docs) {
      const group = byWorkspace.get(doc.workspace);
      if (group) group.push(doc);
      else byWorkspace.set(doc.workspace, [doc]);
    }
    for (const [workspace, group] of byWorkspace) {
      for (let tries = 1; ; tries++) {
        try {
          await this.moveLegacy(workspace, group);
          break;
        } catch (error) {
          // Another instance starting at the same time moved some first: look again.
          if (!isDuplicateKey(error) || tries === 3) throw error;
        }
      }
      await this.announce(workspace, this.markFor(workspace));
    }
    if (docs.length > 0) await legacy.deleteMany({ _id: { $in: docs.map((d) => d._id) } });
  }

  /** Those not moved yet (by an earlier, interrupted start), each in a free place under the cap. */
  private async moveLegacy(workspace: string, group: LegacyDoc[]): Promise<void> {
    const collection = await this.indexedCollection(workspace);
    const present = await readAll(collection.find({}, { projection: { slot: 1 } }));
    const ids = new Set(present.map((d) => d._id));
    const used = new Set(present.map((d) => d.slot));
    let slot = 0;
    const moved: WebhookDoc[] = [];
    for (const doc of group) {
      if (ids.has(doc._id)) continue;
      while (used.has(slot)) slot++;
      moved.push({ ...doc, slot: slot++ });
    }
    if (moved.length > 0) await collection.insertMany(moved, { ordered: false });
  }

  /** Refuses with failed_precondition once the workspace holds `limit` webhooks, also when creates race. */
  async create(workspace: string, input: NewWebhook, limit: number): Promise<WebhookRecord> {
    const collection = await this.indexedCollection(workspace);
    const now = new Date();
    const doc: WebhookDoc = {
      _id: newWebhookId(),
      workspace,
      ...input,
      signatureScheme: input.signatureScheme ?? 'humiris',
      status: 'active',
      secrets: [{ secret: newSigningSecret(), expiresAt: null }],
      createdAt: now,
      updatedAt: now,
      slot: 0,
    };
    // Places taken as far as this create knows: first what a list snapshot saw, perhaps stale, so
    // a create costs one insert; a place lost to a concurrent create is added. After a few lost
    // guesses, or when none seems left, the workspace's places are read.
    const mark = this.markFor(workspace);
    let taken = new Set(this.snapshots.get(workspace)?.loaded?.map((d) => d.slot));
    for (let guesses = 0, fresh = false; ; guesses++) {
      const slot = fresh || guesses < SLOT_GUESSES ? freeSlot(taken, limit) : null;
      if (slot === null) {
        if (fresh) throw new DomainError('failed_precondition', `this workspace already has the maximum of ${limit} webhooks`);
        taken = new Set(await this.takenSlots(workspace));
        fresh = true;
        continue;
      }
      try {
        await collection.insertOne({ ...doc, slot });
        break;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        taken.add(slot);
      }
    }
    await this.announce(workspace, mark);
    return toRecord(doc);
  }

  /** The places the workspace's webhooks hold; concurrent creates share one read. */
  private takenSlots(workspace: string): Promise<number[]> {
    let read = this.slotReads.get(workspace);
    if (!read) {
      read = readAll(this.collectionOf(workspace).find({}, { projection: { slot: 1 } })).then((docs) => docs.map((d) => d.slot));
      this.slotReads.set(workspace, read);
      const done = () => void this.slotReads.delete(workspace);
      read.then(done, done);
    }
    return read;
  }

  async get(workspace: string, id: string): Promise<WebhookRecord> {
    const webhook = await this.getById(workspace, id);
    if (!webhook) throw notFound(`webhook ${id}`);
    return webhook;
  }

  async getById(workspace: string, id: string): Promise<WebhookRecord | null> {
    const doc = await this.collectionOf(workspace).findOne({ _id: id });
    return doc ? toRecord(doc) : null;
  }

  async list(workspace: string, pageSize: number, cursor: string): Promise<Page<WebhookRecord>> {
    const size = pageSizeOf(pageSize);
    const after = cursor === '' ? null : decodeCursor(cursor, 'cursor');
    const docs = await this.newestFirst(workspace);
    const start = after
      ? docs.findIndex((d) => d.createdAt.getTime() < after.t || (d.createdAt.getTime() === after.t && d._id < after.id))
      : 0;
    return toPage(start === -1 ? [] : docs.slice(start, start + size + 1), size, toRecord);
  }

  /** Every webhook of the workspace, newest first, from memory while the workspace's version stands. */
  private async newestFirst(workspace: string): Promise<WebhookDoc[]> {
    // The mark first: what is read after it holds at least every change it covers.
    const changeMark = await this.changeMark(workspace);
    const cached = this.snapshots.get(workspace);
    this.snapshots.delete(workspace);
    const { reread, seen } = mustReread(cached?.mark, changeMark, performance.now());
    if (cached && !reread) {
      this.snapshots.set(workspace, cached);
      return cached.docs;
    }
    const snapshot: ListSnapshot = {
      mark: seen,
      docs: readAll(this.collectionOf(workspace).find({})).then((docs) => docs.sort(newestFirst)),
    };
    this.snapshots.set(workspace, snapshot);
    try {
      snapshot.loaded = await snapshot.docs;
      this.evictSnapshots();
      return snapshot.loaded;
    } catch (error) {
      if (this.snapshots.get(workspace) === snapshot) this.snapshots.delete(workspace);
      throw error;
    }
  }

  private evictSnapshots(): void {
    let total = 0;
    for (const { loaded } of this.snapshots.values()) total += loaded?.length ?? 0;
    for (const [workspace, { loaded }] of this.snapshots) {
      if (total <= SNAPSHOT_DOC_LIMIT || this.snapshots.size === 1) break;
      this.snapshots.delete(workspace);
      total -= loaded?.length ?? 0;
    }
  }

  /** A status set through the API clears the service's reason; enabling also starts a new failure streak. */
  update(workspace: string, id: string, changes: WebhookChanges): Promise<WebhookRecord> {
    const now = new Date();
    const status: Partial<WebhookDoc> =
      changes.status === undefined ? {} : { disabledReason: '', disabledAt: null, ...(changes.status === 'active' ? { enabledAt: now } : {}) };
    return this.set(workspace, id, { ...changes, ...status, updatedAt: now });
  }

  /** Disabled on the service's own account, with the reason; null when it was not active (or is gone). */
  async disableFor(workspace: string, id: string, reason: string, at: Date): Promise<WebhookRecord | null> {
    const mark = this.markFor(workspace);
    const doc = await this.collectionOf(workspace).findOneAndUpdate(
      { _id: id, status: 'active' },
      { $set: { status: 'disabled', disabledReason: reason, disabledAt: at, updatedAt: at } },
      { returnDocument: 'after' },
    );
    if (!doc) return null;
    await this.announce(workspace, mark);
    return toRecord(doc);
  }

  private async set(workspace: string, id: string, fields: Partial<WebhookDoc>): Promise<WebhookRecord> {
    const mark = this.markFor(workspace);
    const doc = await this.collectionOf(workspace).findOneAndUpdate({ _id: id }, { $set: fields }, { returnDocument: 'after' });
    if (!doc) throw notFound(`webhook ${id}`);
    await this.announce(workspace, mark);
    return toRecord(doc);
  }

  /** Frees the webhook's place under the cap with it. */
  async delete(workspace: string, id: string): Promise<void> {
    const mark = this.markFor(workspace);
    const { deletedCount } = await this.collectionOf(workspace).deleteOne({ _id: id });
    if (deletedCount === 0) throw notFound(`webhook ${id}`);
    await this.announce(workspace, mark);
  }

  /**
   * A new current secret; the previous current one keeps signing until `now + keepPreviousMs`
   * (dropped at once when 0). Older, already rotated-out secrets are dropped.
   */
  async rotateSecret(workspace: string, id: string, keepPreviousMs: number): Promise<WebhookRecord> {
    const current = await this.get(workspace, id);
    const now = new Date();
    const previous = current.secrets.find((s) => s.expiresAt === null);
    const secrets: SigningSecret[] = [{ secret: newSigningSecret(), expiresAt: null }];
    if (previous && keepPreviousMs > 0) secrets.push({ secret: previous.secret, expiresAt: new Date(now.getTime() + keepPreviousMs) });
    return this.set(workspace, id, { secrets, updatedAt: now });
  }

  async listActive(workspace: string): Promise<WebhookRecord[]> {
    return (await readAll(this.collectionOf(workspace).find({ status: 'active' }))).map(toRecord);
  }

  /**
   * A lookup by _id: cheap on every MongoDB wire server, where a scan of all webhooks is not.
   * Waits for this instance's own mark on its way, so it never reads one older than a change it answered.
   */
  async changeMark(workspace: string): Promise<ChangeMark> {
    await this.marks.get(workspace)?.landed;
    const doc = await this.versions.findOne({ _id: workspace });
    return { version: doc?.version ?? 0, settleMs: doc?.settleMs ?? 0 };
  }

  /** The mark a change about to be written relies on: the current one while it has time left, else a new one, sent now beside the write. */
  private markFor(workspace: string): MarkSent {
    const current = this.marks.get(workspace);
    if (current && performance.now() < current.sentAt + SETTLE_MS - MARK_REUSE_MS) return current;
    return this.sendMark(workspace);
  }

  private sendMark(workspace: string): MarkSent {
    const mark: MarkSent = {
      sentAt: performance.now(),
      landed: markChanged(this.versions, workspace, SETTLE_MS).then(
        () => true,
        () => false,
      ),
    };
    this.marks.set(workspace, mark);
    return mark;
  }

  /**
   * Resolves once a mark that landed covers the change just acknowledged, so that a crash after the
   * answer cannot leave the change unseen by other instances. When the store refuses the mark, the
   * change is answered and the mark sent again until it lands.
   */
  private async announce(workspace: string, mark: MarkSent): Promise<void> {
    const ackedAt = performance.now();
    this.lastChange.set(workspace, ackedAt);
    if ((await mark.landed) && coveredBy(mark.sentAt, SETTLE_MS, ackedAt, SETTLE_MARGIN_MS)) return;
    if (!(await this.sendMark(workspace).landed)) this.markLater(workspace);
  }

  private markLater(workspace: string): void {
    setTimeout(() => {
      void this.sendMark(workspace).landed.then((ok) => ok || this.markLater(workspace));
    }, VERSION_RETRY_MS).unref();
  }

  /**
   * Set once a change is written, before it is answered: this instance's caches read the workspace
   * again at once, and its events ask matchers elsewhere to (they read it within 1 s anyway).
   */
  changedAt(workspace: string): number | undefined {
    const at = this.lastChange.get(workspace);
    if (at === undefined || performance.now() - at < SEEN_EVERYWHERE_MS) return at;
    this.lastChange.delete(workspace);
    return undefined;
  }

  /** Resolves once every mark sent so far has landed or been refused (for a clean stop). */
  async settled(): Promise<void> {
    await Promise.all([...this.marks.values()].map((mark) => mark.landed));
  }
}

/** A change mark this instance sent: when (its clock) and whether it landed. */
interface MarkSent {
  sentAt: number;
  landed: Promise<boolean>;
}

/** A place below `limit` not in `taken`, from a random start so that concurrent creates rarely pick the same; null when full. */
function freeSlot(taken: Set<number>, limit: number): number | null {
  if (taken.size >= limit) return null;
  const start = randomInt(limit);
  for (let i = 0; i < limit; i++) {
    const slot = (start + i) % limit;
    if (!taken.has(slot)) return slot;
  }
  return null;
}
