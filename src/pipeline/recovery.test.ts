import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.js';
import { matchedDelivery } from './delivery-state.js';
import { Recoveries } from './recovery.js';
import type { DeliveryRecord, RecoveryJobs, RecoveryRecord } from './ports.js';

const logger = createLogger({ level: 'silent' });

function failed(n: number): DeliveryRecord {
  const delivery = matchedDelivery({ id: `dlv_${String(n).padStart(24, '0')}`, workspace: 'acme', webhookId: 'whk_1', eventId: `evt_${n}`, eventType: 'email.received', agent: null, payload: '', createdAt: new Date(1_000 + n) });
  return { ...delivery, status: 'failed', attemptCount: 6 };
}

class MemoryJobs implements RecoveryJobs {
  readonly docs = new Map<string, RecoveryRecord>();
  async create(job: RecoveryRecord) {
    const stored = this.docs.get(job.id);
    if (stored) return { job: { ...stored }, created: false };
    this.docs.set(job.id, { ...job });
    return { job, created: true };
  }
  async get(id: string) {
    const stored = this.docs.get(id);
    return stored ? { ...stored } : null;
  }
  async save(job: RecoveryRecord) {
    this.docs.set(job.id, { ...job });
  }
}

/** Yields the window's deliveries in chunks of 2, as the store would. */
const store = (all: DeliveryRecord[]) => ({
  async *failedDeliveries(_workspace: string, _webhookId: string, since: Date, until: Date) {
    const inside = all.filter((d) => d.createdAt >= since && d.createdAt < until);
    for (let i = 0; i < inside.length; i += 2) yield inside.slice(i, i + 2);
  },
});

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(check()).toBe(true);
};

describe('Recoveries', () => {
  it('queues each failed delivery of the window once, counts what it could not claim, and answers the same job for the same window', async () => {
    const jobs = new MemoryJobs();
    const queued: string[] = [];
    const actions = {
      async retryMany(chunk: DeliveryRecord[]) {
        // The third delivery's replay is already in progress.
        const skipped = chunk.filter((d) => d.eventId === 'evt_3');
        const taken = chunk.filter((d) => d.eventId !== 'evt_3');
        queued.push(...taken.map((d) => d.eventId));
        return { queued: taken, skipped };
      },
    };
    const all = [1, 2, 3, 4, 5].map(failed);
    const recoveries = new Recoveries(jobs, store(all), actions, { logger });
    const first = await recoveries.start('acme', 'whk_1', new Date(1_001), new Date(1_005));
    await until(() => jobs.docs.get(first.id)?.status === 'done');
    expect(jobs.docs.get(first.id)).toMatchObject({ found: 4, queued: 3, skipped: 1 });
    expect(queued).toEqual(['evt_1', 'evt_2', 'evt_4']);

    const again = await recoveries.start('acme', 'whk_1', new Date(1_001), new Date(1_005));
    expect(again).toMatchObject({ id: first.id, status: 'done', found: 4 });
    expect(queued).toHaveLength(3);
    expect(await recoveries.get('other', 'whk_1', first.id)).toBeNull();
  });

  it('resumes a job whose runner stopped from its cursor, without queueing what it had done', async () => {
    const jobs = new MemoryJobs();
    const queued: string[] = [];
    const actions = {
      async retryMany(chunk: DeliveryRecord[]) {
        queued.push(...chunk.map((d) => d.eventId));
        return { queued: chunk, skipped: [] };
      },
    };
    const all = [1, 2, 3, 4, 5].map(failed);
    let now = 10_000_000;
    const recoveries = new Recoveries(jobs, store(all), actions, { logger, now: () => new Date(now), abandonedAfterMs: 60_000 });
    // As another process left it: two deliveries done, then nothing written for two minutes.
    const id = 'rcv_000000000000000000000001';
    await jobs.save({
      id, workspace: 'acme', webhookId: 'whk_1', since: new Date(1_000), until: new Date(2_000), status: 'running', found: 2, queued: 2, skipped: 0,
      cursor: { createdAt: all[1]!.createdAt, id: all[1]!.id }, createdAt: new Date(now - 200_000), updatedAt: new Date(now - 120_000), finishedAt: null,
    });
    now += 1;
    expect((await recoveries.get('acme', 'whk_1', id))?.status).toBe('running');
    await until(() => jobs.docs.get(id)?.status === 'done');
    expect(queued).toEqual(['evt_3', 'evt_4', 'evt_5']);
    expect(jobs.docs.get(id)).toMatchObject({ found: 5, queued: 5, skipped: 0 });
  });

  it('leaves a job alone that was written recently (its runner is alive elsewhere)', async () => {
    const jobs = new MemoryJobs();
    let calls = 0;
    const recoveries = new Recoveries(jobs, store([failed(1)]), { retryMany: async (c: DeliveryRecord[]) => (calls++, { queued: c, skipped: [] }) }, { logger });
    const id = 'rcv_000000000000000000000002';
    const at = new Date();
    await jobs.save({ id, workspace: 'acme', webhookId: 'whk_1', since: new Date(0), until: new Date(5_000), status: 'running', found: 0, queued: 0, skipped: 0, cursor: null, createdAt: at, updatedAt: at, finishedAt: null });
    await recoveries.get('acme', 'whk_1', id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(0);
    expect(jobs.docs.get(id)?.status).toBe('running');
  });

  it('runs at most maxRunning jobs of the process at once (each scans the store), the others waiting their turn', async () => {
    const jobs = new MemoryJobs();
    let reading = 0;
    let most = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const slow = {
      async *failedDeliveries() {
        most = Math.max(most, ++reading);
        await released;
        reading--;
        yield [failed(1)];
      },
    };
    const actions = { retryMany: async (chunk: DeliveryRecord[]) => ({ queued: chunk, skipped: [] }) };
    const recoveries = new Recoveries(jobs, slow, actions, { logger, maxRunning: 2 });
    const started = await Promise.all([1, 2, 3, 4, 5].map((n) => recoveries.start('acme', 'whk_1', new Date(n), new Date(10_000))));
    await until(() => reading === 2);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(reading).toBe(2);
    // Every job is answered as running at once, waiting ones included.
    expect(started.map((job) => job.status)).toEqual(['running', 'running', 'running', 'running', 'running']);
    release();
    await until(() => started.every((job) => jobs.docs.get(job.id)?.status === 'done'));
    expect(most).toBe(2);
  });
});
