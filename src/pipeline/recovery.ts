import { setTimeout as sleep } from 'node:timers/promises';
import { recoveryId } from '../domain/ids.js';
import type { Logger } from '../log/logger.js';
import { Semaphore } from './semaphore.js';
import type { DeliveryActions, DeliveryReader, DeliveryRecord, RecoveryJobs, RecoveryRecord } from './ports.js';

export interface RecoveryOptions {
  logger: Logger;
  /** A running job not written for this long has lost its runner (its process stopped): the next look at it resumes it. */
  abandonedAfterMs?: number;
  /** How often a running job writes that it is alive, also while a long read has nothing to report. */
  heartbeatMs?: number;
  /** Jobs this process runs at once (default 2): each reads the store chunk by chunk, a scan on FerretDB. */
  maxRunning?: number;
  now?: () => Date;
}

/** Times a chunk whose tasks could not be queued (Kafka away) is tried again before the job waits to be resumed. */
const CHUNK_TRIES = 5;

const isAfter = (d: DeliveryRecord, cursor: RecoveryRecord['cursor']) =>
  !cursor || d.createdAt.getTime() > cursor.createdAt.getTime() || (d.createdAt.getTime() === cursor.createdAt.getTime() && d.id > cursor.id);

/**
 * Bulk recovery: one manual attempt for every `failed` delivery of a webhook created in a window,
 * queued in the background through the replay path (claims, then the deliveries topic), one chunk
 * at a time, so a large recovery holds one store call and one produce at a time. A job is named
 * after its window: asking again finds it instead of sending everything once more. A few jobs run at
 * once per process and the others wait their turn, so however many windows are asked for, their
 * reads never take the store from the pipeline.
 */
export class Recoveries {
  private readonly running = new Map<string, Promise<void>>();
  private readonly turns: Semaphore;
  private readonly now: () => Date;
  private stopping = false;

  constructor(
    private readonly jobs: RecoveryJobs,
    private readonly deliveries: Pick<DeliveryReader, 'failedDeliveries'>,
    private readonly actions: Pick<DeliveryActions, 'retryMany'>,
    private readonly options: RecoveryOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.turns = new Semaphore(options.maxRunning ?? 2);
  }

  /** The job of this window, started if it is new; answers at once while the job runs. `until` null: up to now. */
  async start(workspace: string, webhookId: string, since: Date, until: Date | null): Promise<RecoveryRecord> {
    const now = this.now();
    const id = recoveryId(workspace, webhookId, since.getTime(), until?.getTime() ?? null);
    const fresh: RecoveryRecord = {
      id,
      workspace,
      webhookId,
      since,
      until: until ?? now,
      status: 'running',
      found: 0,
      queued: 0,
      skipped: 0,
      cursor: null,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    };
    const { job, created } = await this.jobs.create(fresh);
    if (created || this.abandoned(job)) this.run(job);
    return job;
  }

  /** The job, as last written, if it belongs to this webhook of this workspace. */
  async get(workspace: string, webhookId: string, id: string): Promise<RecoveryRecord | null> {
    const job = await this.jobs.get(id);
    if (!job || job.workspace !== workspace || job.webhookId !== webhookId) return null;
    if (this.abandoned(job)) this.run(job);
    return job;
  }

  /** Stops the jobs this process runs after their current chunk; each is resumed from its cursor when next asked for. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running.values());
  }

  private abandoned(job: RecoveryRecord): boolean {
    const after = this.options.abandonedAfterMs ?? 60_000;
    return job.status === 'running' && !this.stopping && !this.running.has(job.id) && this.now().getTime() - job.updatedAt.getTime() > after;
  }

  private run(job: RecoveryRecord): void {
    const log = this.options.logger.child({ recoveryId: job.id, webhookId: job.webhookId, workspace: job.workspace });
    const done = this.execute(job)
      .then(() => log.info({ found: job.found, queued: job.queued, skipped: job.skipped, status: job.status }, 'recovery finished'))
      .catch((error) => log.error({ err: error }, 'recovery stopped; it is resumed when next asked for'))
      .finally(() => this.running.delete(job.id));
    this.running.set(job.id, done);
  }

  private async execute(job: RecoveryRecord): Promise<void> {
    // Writes one at a time, so an older snapshot never lands after a newer one.
    let writes = Promise.resolve();
    const save = () => {
      job.updatedAt = this.now();
      const snapshot = { ...job };
      writes = writes.then(() => this.jobs.save(snapshot));
      return writes;
    };
    // Written while it waits its turn too: a job waiting here is not abandoned.
    const heartbeat = setInterval(() => void save().catch(() => {}), this.options.heartbeatMs ?? 15_000);
    let turn = false;
    try {
      await save();
      turn = await this.turns.acquire();
      if (this.stopping) return;
      const resumeAt = job.cursor;
      const since = resumeAt ? resumeAt.createdAt : job.since;
      for await (const chunk of this.deliveries.failedDeliveries(job.workspace, job.webhookId, since, job.until)) {
        if (this.stopping) return;
        const fresh = chunk.filter((d) => isAfter(d, resumeAt));
        if (fresh.length === 0) continue;
        const { queued, skipped } = await this.queueChunk(fresh);
        job.found += fresh.length;
        job.queued += queued;
        job.skipped += skipped;
        const last = fresh[fresh.length - 1]!;
        job.cursor = { createdAt: last.createdAt, id: last.id };
        await save();
      }
      job.status = 'done';
      job.finishedAt = this.now();
      await save();
    } finally {
      if (turn) this.turns.release();
      clearInterval(heartbeat);
      await writes.catch(() => {});
    }
  }

  private async queueChunk(chunk: DeliveryRecord[]): Promise<{ queued: number; skipped: number }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { queued, skipped } = await this.actions.retryMany(chunk);
        return { queued: queued.length, skipped: skipped.length };
      } catch (error) {
        // A chunk that failed gave its claims back: trying it again sends nothing twice.
        if (attempt >= CHUNK_TRIES || this.stopping) throw error;
        this.options.logger.warn({ err: error, attempt }, 'recovery could not queue a chunk, trying again');
        await sleep(1_000 * 2 ** (attempt - 1));
      }
    }
  }
}
