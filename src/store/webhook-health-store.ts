import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import type { HealthState } from '../domain/endpoint-health.js';
import type { HealthStates } from '../pipeline/ports.js';
import { bulkWriteInParts, readAll } from './mongo.js';

/** One webhook's failure streak; only failing webhooks have one, so the collection stays small. */
interface HealthDoc {
  _id: string;
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

/**
 * Failure streaks in `webhook_health`, keyed by webhook id, read and written in batches. A webhook
 * whose streak ended has no document: FerretDB scans a collection for every read and update, so this
 * one holds the failing webhooks only.
 */
export class WebhookHealthStore implements HealthStates {
  private readonly docs: Collection<HealthDoc>;

  constructor(db: Db) {
    this.docs = db.collection<HealthDoc>('webhook_health');
  }

  async load(webhookIds: readonly string[]): Promise<Map<string, HealthState>> {
    if (webhookIds.length === 0) return new Map();
    // The collection holds failing webhooks only, so one `$in` read (a scan on FerretDB) stays small.
    const docs = await readAll(this.docs.find({ _id: { $in: [...webhookIds] } }));
    return new Map(docs.map((doc) => [doc._id, toState(doc)]));
  }

  async save(states: Array<{ webhookId: string; workspace: string; state: HealthState | null }>): Promise<void> {
    if (states.length === 0) return;
    const now = new Date();
    const operations: AnyBulkWriteOperation<HealthDoc>[] = states.map(({ webhookId, workspace, state }) =>
      state === null
        ? { deleteOne: { filter: { _id: webhookId } } }
        : {
            replaceOne: {
              filter: { _id: webhookId },
              upsert: true,
              replacement: {
                workspace,
                resetAt: new Date(state.resetAt),
                failures: state.failures.map((f) => ({ id: f.id, at: new Date(f.at) })),
                lastFailureAt: new Date(state.lastFailureAt),
                lastResponseStatus: state.lastResponseStatus,
                lastError: state.lastError,
                updatedAt: now,
              },
            },
          },
    );
    await bulkWriteInParts(this.docs, operations);
  }
}
