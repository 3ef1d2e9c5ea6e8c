import type { Collection, Db } from 'mongodb';
import type { RecoveryJobs, RecoveryRecord } from '../pipeline/ports.js';
import { isDuplicateKey } from './mongo.js';

type RecoveryDoc = Omit<RecoveryRecord, 'id'> & { _id: string };

const toRecord = ({ _id, ...rest }: RecoveryDoc): RecoveryRecord => ({ id: _id, ...rest });

/**
 * Bulk recovery jobs (collection `delivery_recoveries`), one document per job under its id. The
 * id names the window, so the insert under a unique `_id` is what makes a second request for the
 * same window find the first job (the one write that is atomic on every MongoDB wire server).
 */
export class RecoveryStore implements RecoveryJobs {
  private readonly jobs: Collection<RecoveryDoc>;

  constructor(db: Db) {
    this.jobs = db.collection<RecoveryDoc>('delivery_recoveries');
  }

  async create(job: RecoveryRecord): Promise<{ job: RecoveryRecord; created: boolean }> {
    const { id, ...rest } = job;
    try {
      await this.jobs.insertOne({ _id: id, ...rest });
      return { job, created: true };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      const stored = await this.get(id);
      if (!stored) throw error;
      return { job: stored, created: false };
    }
  }

  async get(id: string): Promise<RecoveryRecord | null> {
    const doc = await this.jobs.findOne({ _id: id });
    return doc ? toRecord(doc) : null;
  }

  async save(job: RecoveryRecord): Promise<void> {
    const { id, ...rest } = job;
    await this.jobs.replaceOne({ _id: id }, rest);
  }
}
