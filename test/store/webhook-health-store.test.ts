import { describe, expect, it, vi } from 'vitest';
import type { HealthState } from '../../src/domain/endpoint-health.js';
import { WebhookHealthStore } from '../../src/store/webhook-health-store.js';
import { useMongo } from '../helpers/servers.js';

const { db } = await useMongo('webhook-health');
const at = Date.parse('2026-03-01T00:00:00.000Z');
const streak = (failures: number[], lastResponseStatus = 503): HealthState => ({
  resetAt: at - 60_000,
  failures: failures.map((t, n) => ({ id: `dlv_${n}:1`, at: at + t })),
  lastFailureAt: at + Math.max(...failures),
  lastResponseStatus,
  lastError: `HTTP ${lastResponseStatus}`,
});

describe('WebhookHealthStore', () => {
  it('reads back each saved streak, the latest save of a webhook replacing the one before', async () => {
    const store = new WebhookHealthStore(db);
    await store.save([
      { webhookId: 'whk_a', workspace: 'acme', state: streak([0]) },
      { webhookId: 'whk_b', workspace: 'acme', state: streak([0, 1_000]) },
    ]);
    await store.save([{ webhookId: 'whk_a', workspace: 'acme', state: streak([0, 2_000], 500) }]);
    const loaded = await new WebhookHealthStore(db).load(['whk_a', 'whk_b', 'whk_none']);
    expect(Object.fromEntries(loaded)).toEqual({ whk_a: streak([0, 2_000], 500), whk_b: streak([0, 1_000]) });
    expect(await db.collection('webhook_health').countDocuments({ webhookId: 'whk_a' })).toBe(1);
  });

  it('removes every document of a streak that ended, and reads a document of earlier versions (keyed by webhook id) until then', async () => {
    const store = new WebhookHealthStore(db);
    const { failures, ...rest } = streak([0, 1_000]);
    const toDoc = (state: HealthState) => ({
      ...rest,
      resetAt: new Date(state.resetAt),
      failures: state.failures.map((f) => ({ id: f.id, at: new Date(f.at) })),
      lastFailureAt: new Date(state.lastFailureAt),
      updatedAt: new Date(),
    });
    await db.collection('webhook_health').insertOne({ _id: 'whk_old' as never, workspace: 'acme', ...toDoc({ ...rest, failures }) });
    expect(Object.fromEntries(await store.load(['whk_old']))).toEqual({ whk_old: streak([0, 1_000]) });
    await store.save([{ webhookId: 'whk_old', workspace: 'acme', state: streak([0, 1_000, 2_000]) }]);
    expect(Object.fromEntries(await store.load(['whk_old']))).toEqual({ whk_old: streak([0, 1_000, 2_000]) });
    expect(await db.collection('webhook_health').countDocuments({ _id: 'whk_old' as never })).toBe(0);
    await store.save([{ webhookId: 'whk_old', workspace: 'acme', state: null }]);
    expect((await store.load(['whk_old'])).size).toBe(0);
    expect(await db.collection('webhook_health').countDocuments({ $or: [{ webhookId: 'whk_old' }, { _id: 'whk_old' as never }] })).toBe(0);
  });

  it('merges two documents of one webhook, as a save stopped between its insert and its delete leaves them', async () => {
    const store = new WebhookHealthStore(db);
    await store.save([{ webhookId: 'whk_twice', workspace: 'acme', state: streak([0]) }]);
    const [doc] = await db.collection('webhook_health').find({ webhookId: 'whk_twice' }).toArray();
    await db.collection('webhook_health').insertOne({ ...doc!, _id: 'hst_copy' as never, failures: [{ id: 'dlv_9:1', at: new Date(at + 5_000) }], lastFailureAt: new Date(at + 5_000) });
    const merged = (await store.load(['whk_twice'])).get('whk_twice')!;
    expect(merged.failures.map((f) => f.id)).toEqual(['dlv_0:1', 'dlv_9:1']);
    expect(merged.lastFailureAt).toBe(at + 5_000);
  });

  it("keeps a view another process saved while this one saves, so two processes saving one webhook at once never leave it none", async () => {
    const store = new WebhookHealthStore(db);
    await store.save([{ webhookId: 'whk_shared', workspace: 'acme', state: streak([0]) }]);
    const [doc] = await db.collection('webhook_health').find({ webhookId: 'whk_shared' }).toArray();
    // Another process's save, a moment later by its clock, that has not deleted this one's yet.
    await db.collection('webhook_health').insertOne({ ...doc!, _id: 'hst_other' as never, updatedAt: new Date(Date.now() + 60_000) });
    await store.save([{ webhookId: 'whk_shared', workspace: 'acme', state: streak([0, 1_000]) }]);
    const ids = (await db.collection('webhook_health').find({ webhookId: 'whk_shared' }).toArray()).map((d) => String(d._id));
    expect(ids).toHaveLength(2);
    expect(ids).toContain('hst_other');
  });

  it('replaces its own last save even within the same millisecond', async () => {
    const store = new WebhookHealthStore(db);
    const clock = vi.spyOn(Date, 'now').mockReturnValue(at);
    try {
      await store.save([{ webhookId: 'whk_quick', workspace: 'acme', state: streak([0]) }]);
      await store.save([{ webhookId: 'whk_quick', workspace: 'acme', state: streak([0, 1_000]) }]);
    } finally {
      clock.mockRestore();
    }
    expect(await db.collection('webhook_health').countDocuments({ webhookId: 'whk_quick' })).toBe(1);
  });
});
