import type { Collection, Db, Filter } from 'mongodb';
import { DomainError, notFound } from '../domain/errors.js';
import { newSigningSecret, newWebhookId } from '../domain/ids.js';
import type { Page, SigningSecret, WebhookLookup, WebhookRecord } from '../pipeline/ports.js';
import { afterCursor, NEWEST_FIRST, pageSizeOf, toPage } from './paging.js';

type WebhookDoc = Omit<WebhookRecord, 'id'> & { _id: string };

export interface NewWebhook {
  url: string;
  events: string[];
  agent: string | null;
  description: string;
}

export type WebhookChanges = Partial<Pick<WebhookRecord, 'url' | 'events' | 'agent' | 'description' | 'status'>>;

const toRecord = ({ _id, ...rest }: WebhookDoc): WebhookRecord => ({ id: _id, ...rest });

/** Webhooks in MongoDB (collection `webhooks`); hard delete, so a deleted id is simply gone. */
export class WebhookStore implements WebhookLookup {
  private readonly collection: Collection<WebhookDoc>;
  /** One counter per workspace, bumped on every change, so matchers know when to reload. */
  private readonly versions: Collection<{ _id: string; version: number }>;

  constructor(db: Db) {
    this.collection = db.collection<WebhookDoc>('webhooks');
    this.versions = db.collection('webhook_versions');
  }

  /** Idempotent: createIndex with the same spec is a no-op. */
  async init(): Promise<void> {
    await this.collection.createIndex({ workspace: 1, createdAt: -1, _id: -1 }, { name: 'workspace_newest_first' });
    await this.collection.createIndex({ workspace: 1, status: 1, events: 1 }, { name: 'workspace_status_events' });
  }

  /** Refuses with resource_exhausted once the workspace holds `limit` webhooks. */
  async create(workspace: string, input: NewWebhook, limit: number): Promise<WebhookRecord> {
    // A count-then-insert can overshoot by the number of concurrent creates; a soft cap is enough here.
    if ((await this.count(workspace)) >= limit) {
      throw new DomainError('resource_exhausted', `this workspace already has the maximum of ${limit} webhooks`);
    }
    const now = new Date();
    const doc: WebhookDoc = {
      _id: newWebhookId(),
      workspace,
      ...input,
      status: 'active',
      secrets: [{ secret: newSigningSecret(), expiresAt: null }],
      createdAt: now,
      updatedAt: now,
    };
    await this.collection.insertOne(doc);
    await this.changed(workspace);
    return toRecord(doc);
  }

  async get(workspace: string, id: string): Promise<WebhookRecord> {
    const doc = await this.collection.findOne({ _id: id, workspace });
    if (!doc) throw notFound(`webhook ${id}`);
    return toRecord(doc);
  }

  async getById(id: string): Promise<WebhookRecord | null> {
    const doc = await this.collection.findOne({ _id: id });
    return doc ? toRecord(doc) : null;
  }

  async list(workspace: string, pageSize: number, cursor: string): Promise<Page<WebhookRecord>> {
    const size = pageSizeOf(pageSize);
    const filter: Filter<WebhookDoc> = { workspace, ...afterCursor<WebhookDoc>(cursor) };
    const docs = await this.collection.find(filter).sort(NEWEST_FIRST).limit(size + 1).toArray();
    return toPage(docs, size, toRecord);
  }

  update(workspace: string, id: string, changes: WebhookChanges): Promise<WebhookRecord> {
    return this.set(workspace, id, { ...changes, updatedAt: new Date() });
  }

  private async set(workspace: string, id: string, fields: Partial<WebhookDoc>): Promise<WebhookRecord> {
    const doc = await this.collection.findOneAndUpdate({ _id: id, workspace }, { $set: fields }, { returnDocument: 'after' });
    if (!doc) throw notFound(`webhook ${id}`);
    await this.changed(workspace);
    return toRecord(doc);
  }

  async delete(workspace: string, id: string): Promise<void> {
    const { deletedCount } = await this.collection.deleteOne({ _id: id, workspace });
    if (deletedCount === 0) throw notFound(`webhook ${id}`);
    await this.changed(workspace);
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

  async count(workspace: string): Promise<number> {
    return this.collection.countDocuments({ workspace });
  }

  async listActive(workspace: string): Promise<WebhookRecord[]> {
    return (await this.collection.find({ workspace, status: 'active' }).toArray()).map(toRecord);
  }

  /** A lookup by _id: cheap on every MongoDB wire server, where a scan of all webhooks is not. */
  async version(workspace: string): Promise<number> {
    return (await this.versions.findOne({ _id: workspace }))?.version ?? 0;
  }

  private async changed(workspace: string): Promise<void> {
    const bump = () => this.versions.updateOne({ _id: workspace }, { $inc: { version: 1 } }, { upsert: true });
    try {
      await bump();
    } catch (error) {
      // Two first changes of a workspace at once: both upsert, one insert loses; its bump is now an update.
      if ((error as { code?: number }).code !== 11000) throw error;
      await bump();
    }
  }
}
