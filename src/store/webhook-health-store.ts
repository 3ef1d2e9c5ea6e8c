import type { Collection, Db, Filter } from 'mongodb';
import { mergeHealth, type HealthState } from '../domain/endpoint-health.js';
import { newHealthRecordId } from '../domain/ids.js';
import type { HealthStates } from '../pipeline/ports.js';
import { readAll } from './mongo.js';

/**
 * One saved view of a webhook's failure streak. A save inserts the new view before it deletes
 * those it replaces, so a webhook may have two for a moment (or after a crash); a read merges them.
 * Documents of earlier versions have no `webhookId`: their `_id` is the webhook id.
 */
interface HealthDoc {
  _id: string;
  webhookId?: string;
  workspace: string;
  resetAt: Date;
  failures: Array<{ id: string; at: Date }>;
  lastFailureAt: Date;
  lastResponseStatus: number;
  lastError: string;
  updatedAt: Date;
}

const toState = (doc: HealthDoc): HealthState => ({
  resetAt: doc.resetAt.getTime(),
  failures: doc.failures.map((f) => ({ id: f.id, at: f.at.getTime() })),
  lastFailureAt: doc.lastFailureAt.getTime(),
  lastResponseStatus: doc.lastResponseStatus,
  lastError: doc.lastError,
});

/** Webhooks per insert and delete: FerretDB tests each stored document against every id of an `$in`. */
const SAVE_PART = 500;

const ofWebhooks = (webhookIds: string[]): Filter<HealthDoc> => ({ $or: [{ webhookId: { $in: webhookIds } }, { _id: { $in: webhookIds } }] });

/**
 * Failure streaks in `webhook_health`, read and written in batches. A webhook whose streak ended
 * has no document: FerretDB scans a collection for every read and write that is not an insert, so
 * this one holds the failing webhooks only. Streaks are never updated in place: an update by `_id`
 * is a scan each, so saving the streaks of 2,000 failing webhooks one update each took 45 s of
 * FerretDB, where one insert and one delete of them are a scan in all.
 */
export class WebhookHealthStore implements HealthStates {
  private readonly docs: Collection<HealthDoc>;
  /** Each save's time is later than the one before, so that a save deletes what the last one wrote. */
  private savedAt = 0;

  constructor(db: Db) {
    this.docs = db.collection<HealthDoc>('webhook_health');
  }

  async load(webhookIds: readonly string[]): Promise<Map<string, HealthState>> {
    if (webhookIds.length === 0) return new Map();
    const docs = await readAll(this.docs.find(ofWebhooks([...new Set(webhookIds)])));
    const states = new Map<string, HealthState>();
    for (const doc of docs) {
      const webhookId = doc.webhookId ?? doc._id;
      const before = states.get(webhookId);
      states.set(webhookId, before ? mergeHealth(before, toState(doc)) : toState(doc));
    }
    return states;
  }

  async save(states: Array<{ webhookId: string; workspace: string; state: HealthState | null }>): Promise<void> {
    this.savedAt = Math.max(Date.now(), this.savedAt + 1);
    const now = new Date(this.savedAt);
    for (let i = 0; i < states.length; i += SAVE_PART) {
      const part = states.slice(i, i + SAVE_PART);
      const docs: HealthDoc[] = part.flatMap(({ webhookId, workspace, state }) =>
        state === null
          ? []
          : [
              {
                _id: newHealthRecordId(),
                webhookId,
                workspace,
                resetAt: new Date(state.resetAt),
                failures: state.failures.map((f) => ({ id: f.id, at: new Date(f.at) })),
                lastFailureAt: new Date(state.lastFailureAt),
                lastResponseStatus: state.lastResponseStatus,
                lastError: state.lastError,
                updatedAt: now,
              },
            ],
      );
      if (docs.length > 0) await this.docs.insertMany(docs, { ordered: false });
      // Then the older documents of these webhooks: the views replaced, and the streaks that ended.
      // Not a view another process saved meanwhile: its save deletes this one, and no save deletes both.
      await this.docs.deleteMany({ ...ofWebhooks(part.map((s) => s.webhookId)), updatedAt: { $lt: now } });
    }
  }
}
